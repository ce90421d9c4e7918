"""The in-context learner for regression: one forward pass gives a predictive distribution.

:class:`InContextRegressionLearner` (``algo="in-context-regression"``) is
:class:`~autometa.meta.InContextLearner` with two changes:

* a support row's token adds a linear embedding of its (standardized) target instead of a
  class embedding;
* the head predicts, per query row, logits over ``n_bins`` fixed bins of the standardized
  target: a piecewise-uniform ("bar") predictive density (:mod:`autometa.functional._bar`),
  as TabPFN's regressor does. Its mean is the point prediction; its quantiles are the spread.

Targets are read and predicted in the support set's standard units (task sources standardize
them: :func:`~autometa.tasks._encoder.encode_regression_task`; at ``fit`` time
:func:`in_context_regression_distribution` does). The meta-loss is the query rows' negative
log-density, so :class:`~autometa.meta.MetaTrainer`, checkpoints and MLflow logging work
unchanged. Invariances are those of the classification learner (support-row order exactly;
feature order in expectation, by random slot placements in training and an ensemble of
placements at inference).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from autometa.functional._bar import bar_borders, bar_mean, bar_nll
from autometa.meta._base import register_learner
from autometa.meta._in_context import (
    InContextLearner,
    check_batch,
    check_row_width,
    permute_slots,
    placement_logits,
)
from autometa.tasks._encoder import standardize_targets
from autometa.tasks._task import TaskBatch

__all__ = [
    "BarRegression",
    "InContextRegressionLearner",
    "TARGET_CLIP",
    "bar_query_scores",
    "in_context_regression_distribution",
]

#: standardized support targets are clipped to this range before they are embedded
TARGET_CLIP = 8.0


def bar_query_scores(learner: Any, batch: TaskBatch) -> tuple[Tensor, Tensor]:
    """Mean over tasks of the query rows' bar negative log-density and squared error of the mean.

    For any learner whose ``predict`` gives bar logits over ``learner.borders`` (standardized
    units): :class:`InContextRegressionLearner` and the v2 regression learner.
    """
    logits = learner.predict(learner.adapt(batch), batch.x_query, batch)
    z = batch.y_query.to(logits.dtype)
    mask = batch.query_mask.to(logits.dtype)
    count = mask.sum(1).clamp_min(1.0)
    nll = (bar_nll(logits, z, learner.borders) * mask).sum(1) / count
    mean = bar_mean(torch.softmax(logits.float(), dim=-1), learner.borders)
    mse = (((mean - z.float()) ** 2) * mask).sum(1) / count
    return nll.mean(), mse.mean()


class BarRegression:
    """What both in-context regression learners share: the bar head's loss, evaluation and checks.

    A learner mixing this in has ``head``, ``features(fast, x, batch)`` and a
    ``_shuffles_slots`` flag (shuffle column placements in training), and calls
    :meth:`_init_bars` in its constructor.
    """

    _shuffles_slots: bool
    #: the rows it reads carry the encoder's z-score columns (``TabularEncoder(spacing=True)``)
    spacing: bool = False

    def _init_bars(self, n_bins: int, spacing: bool) -> None:
        """Check and keep ``n_bins`` (its bin borders as a buffer) and ``spacing``."""
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 2:
            raise ValueError(f"n_bins must be an int of at least 2; got {n_bins!r}.")
        self.n_bins = n_bins
        self.spacing = bool(spacing)
        self.register_buffer("borders", bar_borders(n_bins), persistent=False)  # type: ignore[attr-defined]

    def _bar_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` without ``c_max``, with ``n_bins`` (and ``spacing`` when set: the configs
        of learners trained before the option stay as they were)."""
        config = {k: v for k, v in config.items() if k != "c_max"}
        return {**config, "n_bins": self.n_bins, **({"spacing": True} if self.spacing else {})}

    def _check(self, batch: TaskBatch) -> None:
        check_batch(self, batch, regression=True)

    def predict(self, fast: Any, x: Tensor, batch: TaskBatch) -> Tensor:
        """Logits ``[T, n, n_bins]`` of the predictive bar distribution of rows ``x``."""
        return self.head(self.features(fast, x, batch))  # type: ignore[attr-defined]

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        """Query negative log-density (standardized units); in training with random slot placements."""
        if self.training and self._shuffles_slots:  # type: ignore[attr-defined]
            batch = permute_slots(batch)
        loss, mse = bar_query_scores(self, batch)
        return loss, {"loss": float(loss.detach()), "mse": float(mse.detach())}

    @torch.no_grad()
    def evaluate(self, batch: TaskBatch) -> dict[str, float]:
        """Query negative log-density and mean squared error of the mean (standardized units)."""
        loss, mse = bar_query_scores(self, batch)
        return {"loss": float(loss), "mse": float(mse)}


@register_learner("in-context-regression")
class InContextRegressionLearner(BarRegression, InContextLearner):
    """A transformer that predicts query targets' distributions from a support set in one pass.

    Parameters
    ----------
    d_max, width, depth, heads, mlp_ratio, slot_shuffle
        As for :class:`~autometa.meta.InContextLearner`.
    n_bins : int, default=64
        Bins of the predictive distribution over the standardized target.
    spacing : bool, default=False
        The learner reads rows with the encoder's z-score columns
        (``TabularEncoder(spacing=True)``): its prior encodes tasks so, and the member and the
        held-out scores encode rows so. It changes no layer.

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.meta import InContextRegressionLearner
    >>> from autometa.tasks import RegressionPrior, collate_tasks
    >>> learner = InContextRegressionLearner(d_max=8, width=32, depth=1, n_bins=16)
    >>> batch = collate_tasks([RegressionPrior(d_max=8).sample(np.random.default_rng(0))])
    >>> learner.predict(learner.adapt(batch), batch.x_query, batch).shape[-1]
    16
    """

    def __init__(
        self,
        d_max: int = 64,
        width: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 2,
        n_bins: int = 64,
        slot_shuffle: bool = True,
        spacing: bool = False,
    ) -> None:
        super().__init__(d_max=d_max, c_max=2, width=width, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                         slot_shuffle=slot_shuffle)  # fmt: skip
        self._init_bars(n_bins, spacing)
        self.label = nn.Linear(1, width)  # the target's embedding replaces the class embedding
        self.head = nn.Linear(width, n_bins)

    def get_config(self) -> dict[str, Any]:
        return self._bar_config(super().get_config())

    def _label_tokens(self, y_support: Tensor) -> Tensor:
        z = y_support.to(self.label.weight.dtype).clamp(-TARGET_CLIP, TARGET_CLIP)
        return self.label(z.unsqueeze(-1))

    @property
    def _shuffles_slots(self) -> bool:
        return self.slot_shuffle


@torch.no_grad()
def in_context_regression_distribution(
    learner: InContextRegressionLearner,
    x_support: Tensor,
    y_support: Any,
    x_query: Tensor,
    feature_mask: Tensor,
    *,
    n_members: int = 4,
    seed: int = 0,
    max_support: int = 1024,
    query_chunk: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Predictive bar distributions of query rows: an ensemble over feature placements.

    The support targets are standardized by their mean and standard deviation; member ``m``
    places the features in random input slots (and, above ``max_support`` rows, reads a random
    subset of the support rows), all drawn from ``seed`` and ``m``; the members' bin
    probabilities are averaged (they share the bins, in the full support set's units).

    Parameters
    ----------
    learner : InContextRegressionLearner
    x_support : Tensor (S, D); y_support : array-like (S,), float
    x_query : Tensor (Q, D); feature_mask : Tensor (D,), bool
    n_members, seed, max_support, query_chunk
        As for :func:`~autometa.meta._in_context.in_context_proba`.

    Returns
    -------
    probs : ndarray (Q, n_bins), float64; rows sum to one
    borders : ndarray (n_bins + 1,), float64
        The bins' borders in the units of ``y_support``.
    """
    D = check_row_width(learner, x_support)
    zs, center, scale = standardize_targets(np.asarray(y_support, dtype=np.float64))
    z = torch.from_numpy(zs.astype(np.float32))
    was_training = learner.training
    learner.eval()
    gen = torch.Generator().manual_seed(int(seed))
    xs, ys, masks, slots_all = [], [], [], []
    n = z.numel()
    for m in range(int(n_members)):
        if n > max_support:
            rows = torch.from_numpy(
                np.sort(np.random.default_rng([seed, m]).choice(n, int(max_support), replace=False))
            )
        else:
            rows = torch.arange(n)
        slots = torch.argsort(torch.rand(D, generator=gen))
        xs.append(x_support[rows][:, slots])
        ys.append(z[rows])
        masks.append(feature_mask[slots])
        slots_all.append(slots)
    batch = TaskBatch.for_inference(
        torch.stack(xs), torch.stack(ys), n_classes=1, feature_mask=torch.stack(masks)
    )
    try:
        state = learner.adapt(batch)
        out = torch.zeros(x_query.shape[0], learner.n_bins, dtype=torch.float64)
        for chunk, logits in placement_logits(
            learner, state, batch, x_query, slots_all, query_chunk
        ):
            out[chunk] = torch.softmax(logits.double(), dim=-1).mean(0)
    finally:
        learner.train(was_training)
    borders = center + scale * learner.borders.double().numpy()
    return out.numpy(), borders
