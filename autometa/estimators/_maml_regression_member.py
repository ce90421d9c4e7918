"""The MAML member of :class:`~autometa.estimators.AutoMetaRegressor`.

``fit`` adapts the shipped :class:`~autometa.meta.MAMLRegression` net (a meta-learned
initialization of a 2x64 MLP) to the encoded training rows by its inner loop (5 SGD steps on
the squared error of the standardized target, no meta-gradient graph); ``predict`` runs the
adapted net. Rows arrive encoded (the estimator fits a :class:`~autometa.tasks.TabularEncoder`
with the learner's ``d_max``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MAML_REGRESSOR_CHECKPOINT", "MAMLRegressionMember", "load_maml_regressor"]

#: the shipped, meta-trained MAML regression net (model card: ``regressor_maml_model_card.json``)
MAML_REGRESSOR_CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "regressor_maml.pt"


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> Any:
    from autometa.meta import MAMLRegression, load_meta_learner  # deferred: torch

    learner = load_meta_learner(path)
    if not isinstance(learner, MAMLRegression):
        raise ValueError(f"{path} holds a {type(learner).__name__}, not a MAMLRegression (algo 'maml-regression').")
    learner.requires_grad_(False)
    return learner.eval()


def load_maml_regressor(source: str | os.PathLike[str] = "default") -> Any:
    """The MAML regression learner behind the member, or None when the default checkpoint is absent."""
    default = str(source) == "default"
    path = MAML_REGRESSOR_CHECKPOINT if default else Path(source)
    if not path.is_file():
        if default:
            return None
        raise FileNotFoundError(f"No MAML regression checkpoint at {path}.")
    return _load(str(path), path.stat().st_mtime)


class MAMLRegressionMember:
    """A fitted MAML member: the net adapted to the encoded training rows.

    Parameters
    ----------
    learner : MAMLRegression
    """

    name = "maml"

    def __init__(self, learner: Any) -> None:
        self.learner = learner

    def fit(self, X_enc: np.ndarray, feature_mask: np.ndarray, z: np.ndarray) -> MAMLRegressionMember:
        """Adapt to encoded rows ``X_enc (n, d_max)`` with mask ``feature_mask`` and standardized targets ``z``."""
        import torch  # deferred: importing the estimators does not need torch

        from autometa.tasks import Task, collate_tasks  # deferred: torch

        xs = torch.from_numpy(np.ascontiguousarray(np.asarray(X_enc, dtype=np.float32)))
        task = Task(x_support=xs, y_support=torch.from_numpy(np.asarray(z, dtype=np.float32)),
                    x_query=xs[:1], y_query=torch.zeros(1), feature_mask=torch.from_numpy(np.asarray(feature_mask)),
                    n_classes=1, name="fit")  # fmt: skip
        self.batch_ = collate_tasks([task], c_max=1)
        with torch.enable_grad():
            self.fast_ = self.learner.adapt(self.batch_, inference=True)
        return self

    def predict(self, X_enc: np.ndarray) -> np.ndarray:
        """Predicted standardized targets ``(n,)``."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(np.asarray(X_enc, dtype=np.float32)))[None]
        with torch.no_grad():
            return self.learner.predict(self.fast_, x, self.batch_)[0].numpy().astype(np.float64)
