"""The in-context member of :class:`~autometa.estimators.AutoMetaRegressor`.

It fits nothing: ``fit`` keeps the encoded training rows and targets as the support set;
``predict`` / ``predict_quantiles`` run the shipped
:class:`~autometa.meta.InContextRegressionLearner` over that support set and the rows to
predict, as an ensemble over feature placements
(:func:`~autometa.meta._in_context_regression.in_context_regression_distribution`), and read
the mean and quantiles off the predictive bar distribution. Rows arrive already encoded (the
estimator fits one :class:`~autometa.tasks.TabularEncoder` with the learner's ``d_max``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["IN_CONTEXT_REGRESSOR_CHECKPOINT", "InContextRegressionMember", "load_in_context_regressor"]

#: the shipped, meta-trained regression learner (model card: ``regressor_in_context_model_card.json``)
IN_CONTEXT_REGRESSOR_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "regressor_in_context.pt"


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Any:
    from autometa.meta import InContextRegressionLearner, load_meta_learner

    learner = load_meta_learner(path)
    if not isinstance(learner, InContextRegressionLearner):
        raise ValueError(
            f"{path} holds a {type(learner).__name__}, not an InContextRegressionLearner; the regressor's "
            "in-context member needs a checkpoint written for algo 'in-context-regression'."
        )
    learner.requires_grad_(False)
    return learner.eval()


def load_in_context_regressor(source: str | os.PathLike[str] = "default") -> Any:
    """The regression learner behind the member, or None when the default checkpoint is absent.

    Parameters
    ----------
    source : "default" or path-like
        ``"default"`` is the shipped :data:`IN_CONTEXT_REGRESSOR_CHECKPOINT` (None when that file
        is missing); a path must exist.
    """
    default = str(source) == "default"
    path = IN_CONTEXT_REGRESSOR_CHECKPOINT if default else Path(source)
    if not path.is_file():
        if default:
            return None
        raise FileNotFoundError(f"No in-context regression checkpoint at {path}.")
    return _load(str(path), path.stat().st_mtime)


class InContextRegressionMember:
    """A fitted in-context regression member: the encoded support rows and the learner reading them.

    Parameters
    ----------
    learner : InContextRegressionLearner
    n_members : int, default=4
        Ensemble size (feature placements).
    random_state : int, default=0
        Seed of the placements.
    """

    name = "icl"

    def __init__(self, learner: Any, *, n_members: int = 4, random_state: int = 0) -> None:
        self.learner = learner
        self.n_members = int(n_members)
        self.random_state = int(random_state)

    def fit(self, X_enc: np.ndarray, feature_mask: np.ndarray, y: np.ndarray) -> InContextRegressionMember:
        """Keep encoded rows ``X_enc (n, d_max)``, their mask and float targets ``y`` as the support set."""
        import torch  # deferred: importing the estimators does not need torch

        X_enc = np.asarray(X_enc, dtype=np.float32)
        if X_enc.ndim != 2 or X_enc.shape[1] != self.learner.d_max:
            raise ValueError(f"X_enc must have shape (n, {self.learner.d_max}); got {X_enc.shape}.")
        self.x_support_ = torch.from_numpy(np.ascontiguousarray(X_enc))
        self.feature_mask_ = torch.from_numpy(np.asarray(feature_mask, dtype=bool))
        self.y_support_ = np.asarray(y, dtype=np.float64)
        return self

    def predict_distribution(self, X_enc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bin probabilities ``(n, n_bins)`` and the bins' borders in the targets' units."""
        import torch

        from autometa.meta._in_context_regression import in_context_regression_distribution

        xq = torch.from_numpy(np.ascontiguousarray(np.asarray(X_enc, dtype=np.float32)))
        return in_context_regression_distribution(
            self.learner, self.x_support_, self.y_support_, xq, self.feature_mask_,
            n_members=self.n_members, seed=self.random_state,
        )  # fmt: skip

    def predict(self, X_enc: np.ndarray) -> np.ndarray:
        """Predictive means ``(n,)``."""
        import torch

        from autometa.functional._bar import bar_mean

        probs, borders = self.predict_distribution(X_enc)
        return bar_mean(torch.from_numpy(probs), torch.from_numpy(borders)).numpy()

    def predict_std(self, X_enc: np.ndarray) -> np.ndarray:
        """Predictive standard deviations ``(n,)``."""
        import torch

        from autometa.functional._bar import bar_variance

        probs, borders = self.predict_distribution(X_enc)
        return np.sqrt(bar_variance(torch.from_numpy(probs), torch.from_numpy(borders)).numpy())

    def predict_quantiles(self, X_enc: np.ndarray, q: Any) -> np.ndarray:
        """Predictive quantiles ``(n, len(q))`` at levels ``q`` in (0, 1)."""
        import torch

        from autometa.functional._bar import bar_quantiles

        q = np.atleast_1d(np.asarray(q, dtype=np.float64))
        probs, borders = self.predict_distribution(X_enc)
        return bar_quantiles(torch.from_numpy(probs), torch.from_numpy(borders), torch.from_numpy(q)).numpy()
