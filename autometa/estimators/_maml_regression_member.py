"""The MAML member of :class:`~autometa.estimators.AutoMetaRegressor`.

``fit`` adapts the shipped :class:`~autometa.meta.MAMLRegression` net (a meta-learned
initialization of a 2x64 MLP) to the encoded training rows by its inner loop (5 SGD steps on
the squared error of the standardized target, no meta-gradient graph); ``predict`` runs the
adapted net. The member encodes the rows itself (a :class:`~autometa.tasks.TabularEncoder` with
the learner's ``d_max``, fitted in ``fit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autometa.estimators._context import EncodedRowsMember, FitContext
from autometa.estimators._shipped import load_learner, shipped_path

__all__ = ["MAML_REGRESSOR_CHECKPOINT", "MAMLRegressionMember", "load_maml_regressor"]

#: the shipped, meta-trained MAML regression net (model card: ``regressor_maml_model_card.json``)
MAML_REGRESSOR_CHECKPOINT = shipped_path("regressor_maml")


def load_maml_regressor(source: Any = "default") -> Any:
    """The MAML regression learner behind the member: :func:`~autometa.estimators._shipped.load_learner`
    ``(source, "regressor_maml")`` (``"default"``: the shipped :data:`MAML_REGRESSOR_CHECKPOINT`)."""
    return load_learner(source, "regressor_maml")


class MAMLRegressionMember(EncodedRowsMember):
    """A fitted MAML member: the net adapted to the encoded training rows.

    Parameters
    ----------
    learner : MAMLRegression
    """

    name = "maml"

    def __init__(self, learner: Any) -> None:
        self.learner = learner

    def fit(self, context: FitContext, y: np.ndarray, seed: int) -> MAMLRegressionMember:
        """Encode ``context``'s rows and adapt to them with standardized targets ``y`` (``seed``
        is unused: the inner loop is deterministic)."""
        import torch  # deferred: importing the estimators does not need torch

        from autometa.tasks import Task, collate_tasks  # deferred: torch

        X_enc, feature_mask = self._fit_encoder(context)
        xs = torch.from_numpy(self.encode(X_enc))
        task = Task(x_support=xs, y_support=torch.from_numpy(np.asarray(y, dtype=np.float32)),
                    x_query=xs[:1], y_query=torch.zeros(1), feature_mask=torch.from_numpy(np.asarray(feature_mask)),
                    n_classes=1, name="fit")  # fmt: skip
        self.batch_ = collate_tasks([task], c_max=1)
        with torch.enable_grad():
            self.fast_ = self.learner.adapt(self.batch_, inference=True)
        return self

    def predict(self, rows: FitContext | np.ndarray) -> np.ndarray:
        """Predicted standardized targets ``(n,)`` of a context's rows (or of rows already encoded)."""
        import torch

        x = torch.from_numpy(self.encode(rows))[None]
        with torch.no_grad():
            return self.learner.predict(self.fast_, x, self.batch_)[0].numpy().astype(np.float64)
