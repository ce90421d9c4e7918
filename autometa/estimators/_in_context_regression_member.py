"""The in-context member of :class:`~autometa.estimators.AutoMetaRegressor`.

It fits nothing: ``fit`` keeps the encoded training rows and targets as the support set;
``predict`` / ``predict_quantiles`` run the shipped
:class:`~autometa.meta.InContextRegressionLearner` over that support set and the rows to
predict, as an ensemble over feature placements
(:func:`~autometa.meta._in_context_regression.in_context_regression_distribution`), and read
the mean and quantiles off the predictive bar distribution. The member encodes the rows itself
(a :class:`~autometa.tasks.TabularEncoder` with the learner's ``d_max``, fitted in ``fit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from autometa.estimators._context import EncodedRowsMember, FitContext
from autometa.estimators._shipped import load_learner, shipped_path

__all__ = [
    "IN_CONTEXT_REGRESSOR_CHECKPOINT",
    "InContextRegressionMember",
    "load_in_context_regressor",
]

#: the shipped, meta-trained regression learner (model card: ``regressor_in_context_model_card.json``)
IN_CONTEXT_REGRESSOR_CHECKPOINT = shipped_path("regressor_in_context")


def load_in_context_regressor(source: Any = "default") -> Any:
    """The regression learner behind the member: :func:`~autometa.estimators._shipped.load_learner`
    ``(source, "regressor_in_context")`` (``"default"``: the shipped :data:`IN_CONTEXT_REGRESSOR_CHECKPOINT`)."""
    return load_learner(source, "regressor_in_context")


class InContextRegressionMember(EncodedRowsMember):
    """A fitted in-context regression member: the encoded support rows and the learner reading them.

    Parameters
    ----------
    learner : InContextRegressionLearner
    n_members : int, default=4
        Ensemble size (feature placements).

    The prediction methods take a :class:`FitContext` (or rows already encoded by
    :meth:`encode`).
    """

    name = "icl"

    def __init__(self, learner: Any, *, n_members: int = 4) -> None:
        self.learner = learner
        self.n_members = int(n_members)

    def fit(self, context: FitContext, y: np.ndarray, seed: int) -> InContextRegressionMember:
        """Encode ``context``'s rows and keep them, with float targets ``y``, as the support set;
        ``seed`` draws the feature placements at predict time."""
        import torch  # deferred: importing the estimators does not need torch

        X_enc, feature_mask = self._fit_encoder(context)
        self.x_support_ = torch.from_numpy(self.encode(X_enc))
        self.feature_mask_ = torch.from_numpy(np.asarray(feature_mask, dtype=bool))
        self.y_support_ = np.asarray(y, dtype=np.float64)
        self.seed_ = int(seed)
        return self

    def predict_distribution(self, rows: FitContext | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bin probabilities ``(n, n_bins)`` and the bins' borders in the targets' units."""
        import torch

        from autometa.meta._in_context_regression import in_context_regression_distribution

        xq = torch.from_numpy(self.encode(rows))
        return in_context_regression_distribution(
            self.learner, self.x_support_, self.y_support_, xq, self.feature_mask_,
            n_members=self.n_members, seed=self.seed_,
        )  # fmt: skip

    def predict(self, rows: FitContext | np.ndarray) -> np.ndarray:
        """Predictive means ``(n,)``."""
        import torch

        from autometa.functional._bar import bar_mean

        probs, borders = self.predict_distribution(rows)
        return bar_mean(torch.from_numpy(probs), torch.from_numpy(borders)).numpy()

    def predict_std(self, rows: FitContext | np.ndarray) -> np.ndarray:
        """Predictive standard deviations ``(n,)``."""
        import torch

        from autometa.functional._bar import bar_variance

        probs, borders = self.predict_distribution(rows)
        return np.sqrt(bar_variance(torch.from_numpy(probs), torch.from_numpy(borders)).numpy())

    def predict_quantiles(self, rows: FitContext | np.ndarray, q: Any) -> np.ndarray:
        """Predictive quantiles ``(n, len(q))`` at levels ``q`` in (0, 1)."""
        import torch

        from autometa.functional._bar import bar_quantiles

        q = np.atleast_1d(np.asarray(q, dtype=np.float64))
        probs, borders = self.predict_distribution(rows)
        return bar_quantiles(
            torch.from_numpy(probs), torch.from_numpy(borders), torch.from_numpy(q)
        ).numpy()
