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
import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

from autometa.tasks import TabularEncoder

__all__ = ["IN_CONTEXT_CHECKPOINT", "InContextMember", "load_in_context_learner"]

#: the shipped, meta-trained in-context learner (model card: ``in_context_model_card.json``)
IN_CONTEXT_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "classifier_in_context.pt"


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Any:
    from autometa.meta import InContextLearner, InContextTTA, load_meta_learner

    learner = load_meta_learner(path)
    if not isinstance(learner, (InContextLearner, InContextTTA)):
        raise ValueError(
            f"{path} holds a {type(learner).__name__}, not an InContextLearner; the in-context member "
            "needs a checkpoint written for algo 'in-context' or 'in-context-tta'."
        )
    learner.requires_grad_(False)
    return learner.eval()


def load_in_context_learner(source: str | os.PathLike[str] = "default") -> Any:
    """The in-context learner behind the member (cached per process and file version).

    Parameters
    ----------
    source : "default" or path-like
        ``"default"`` is the shipped checkpoint :data:`IN_CONTEXT_CHECKPOINT`.
    """
    path = IN_CONTEXT_CHECKPOINT if str(source) == "default" else Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"No in-context checkpoint at {path}.")
    return _load(str(path), path.stat().st_mtime)


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

    def fit(self, X: Any, y: np.ndarray, n_classes: int, seed: int) -> InContextMember:
        """Encode ``X`` (the user's table) and keep it, with class indices ``y``, as the support set."""
        import torch


        if n_classes > self.learner.c_max:
            raise ValueError(
                f"The in-context member handles at most {self.learner.c_max} classes; y has {n_classes}."
            )
        self.encoder_ = TabularEncoder(d_max=self.learner.d_max, c_max=self.learner.c_max).fit(X, y)
        xs, mask = self.encoder_.transform(X)
        self.x_support_ = torch.from_numpy(xs)
        self.y_support_ = torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.feature_mask_ = torch.from_numpy(mask)
        self.n_classes_ = int(n_classes)
        self.seed_ = int(seed)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities ``(n_rows, n_classes)`` for the user's table ``X``."""
        import torch

        from autometa.meta._in_context import in_context_proba

        xq, _ = self.encoder_.transform(X)
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
        return out / out.sum(axis=1, keepdims=True)  # exact in float64 (the net computes in float32)
