"""The in-context member of :class:`~autometa.estimators.AutoMetaClassifier`.

It fits nothing: ``fit`` encodes the training rows with a
:class:`~autometa.tasks.TabularEncoder` (the encoder the learner was meta-trained with) and keeps
them as the support set; ``predict_proba`` runs the shipped
:class:`~autometa.meta.InContextLearner` over that support set and the rows to classify, as an
ensemble over feature placements and label orders
(:func:`~autometa.meta._in_context.in_context_proba`).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from autometa.estimators._shipped import load_learner, shipped_path
from autometa.tasks import TabularEncoder

if TYPE_CHECKING:
    from autometa.estimators._context import FitContext

__all__ = ["IN_CONTEXT_CHECKPOINT", "MAX_CLASSES", "InContextMember", "load_in_context_learner"]

#: the shipped, meta-trained in-context learner (model card: ``in_context_model_card.json``)
IN_CONTEXT_CHECKPOINT = shipped_path("classifier_in_context")
#: classes the member serves: ``c_max`` (10) per forward pass, more by output codes
#: (:func:`autometa.meta._in_context.in_context_proba`: ``2 * ceil(k / c_max) + 2`` passes)
MAX_CLASSES = 100


def load_in_context_learner(source: Any = "default") -> Any:
    """The in-context learner behind the member: :func:`~autometa.estimators._shipped.load_learner`
    ``(source, "classifier_in_context")`` (``"default"``: the shipped :data:`IN_CONTEXT_CHECKPOINT`)."""
    return load_learner(source, "classifier_in_context")


class InContextMember:
    """A fitted in-context member: the encoded training rows and the learner that reads them.

    Parameters
    ----------
    learner : InContextLearner or InContextTTA
    n_members : int
        Ensemble size (feature placements x label orders).
    steps : int or None
        Test-time Meta-LSTM steps of an :class:`~autometa.meta.InContextTTA` learner (None: as
        meta-trained; 0: none, i.e. the in-context learner alone). Ignored for a plain
        in-context learner.
    """

    name = "icl"

    def __init__(self, learner: Any, n_members: int = 4, steps: int | None = None) -> None:
        if steps is not None and hasattr(learner, "steps") and steps != learner.steps:
            learner = copy.copy(learner)  # the cached learner is shared: change a shallow copy
            learner.steps = int(steps)
        self.learner = learner
        self.n_members = int(n_members)

    def fit(self, context: FitContext, y: np.ndarray, seed: int) -> InContextMember:
        """Encode ``context.frame`` (the user's table) and keep it, with class indices ``y``, as the support set."""
        import torch

        X, n_classes = context.frame, context.n_classes
        if n_classes > MAX_CLASSES:
            raise ValueError(
                f"The in-context member handles at most {MAX_CLASSES} classes ({self.learner.c_max} per pass, more "
                f"by output codes); y has {n_classes}. Leave 'icl' out of members for this task."
            )
        self.encoder_ = TabularEncoder(
            d_max=self.learner.d_max, c_max=max(self.learner.c_max, n_classes)
        ).fit(X, y)
        xs, mask = self.encoder_.transform(X)
        self.x_support_ = torch.from_numpy(xs)
        self.y_support_ = torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.feature_mask_ = torch.from_numpy(mask)
        self.n_classes_ = int(n_classes)
        self.seed_ = int(seed)
        return self

    def predict_proba(self, context: FitContext) -> np.ndarray:
        """Probabilities ``(n_rows, n_classes)`` of ``context``'s rows."""
        import torch

        from autometa.meta._in_context import in_context_proba

        xq, _ = self.encoder_.transform(context.frame)
        proba = in_context_proba(
            self.learner,
            self.x_support_,
            self.y_support_,
            torch.from_numpy(xq),
            self.feature_mask_,
            self.n_classes_,
            n_members=self.n_members,
            seed=self.seed_,
        )
        out = proba.double().numpy()
        return out / out.sum(
            axis=1, keepdims=True
        )  # exact in float64 (the net computes in float32)
