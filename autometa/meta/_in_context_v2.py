"""In-context learner v2: one token per cell, attention alternating over features and over rows.

:class:`InContextV2` (``algo="in-context-v2"``) reads a task the way TabPFN v2, TabICL and the
public nanoTabPFN speedrun do (see ``docs/in_context.md`` for what each part bought here, at
equal CPU time):

1. **Cell tokens with feature grouping.** The encoded table (``[T, n, D]``, the
   :class:`~autometa.tasks.TabularEncoder` output with padding columns masked) is cut to its
   ``F`` active columns. The token of cell ``(i, j)`` embeds the value of column ``j`` *and*
   the values of the columns at fixed offsets ``group_offsets`` (default 0, 1, 3, 7, modulo
   the task's column count), so every token sees a few other columns from the start. Each
   row also has a *target token*: a learned embedding of its label (support rows) or of
   "unknown" (query rows).
2. **Thinking rows.** ``thinking_rows`` learned rows join the support rows as context: every
   row can attend to them (a scratch pad that does not depend on the task's size).
3. ``depth`` pre-norm (RMSNorm) blocks, each: attention **within a row** (over its feature
   tokens and its target token; no output projection), attention **down each column** whose
   keys and values come from the thinking and support rows only, and an MLP per token. So
   a query row never sees another query row: predictions do not depend on the other query
   rows and the cost is linear in their number. Support rows and thinking rows are run once
   (:meth:`adapt`), caching each block's column keys and values.
4. **Readout.** The target token and the mean of the row's feature tokens, normalized, go
   through a linear head to ``c_max`` logits; classes a task lacks are masked.

It keeps the learner interface (``adapt`` / ``predict`` / ``meta_loss``), so
:func:`~autometa.meta._in_context.in_context_proba` (ensembles over column placements and
label orders, and more than ``c_max`` classes by output codes), the campaign, checkpoints and
MLflow logging work unchanged.

Invariances
    Support-row order and query-row order: exact. Feature order: in expectation (columns are
    shuffled in training; feature grouping depends on the order, so inference ensembles
    placements). Label permutation: in expectation (labels are permuted in training and at
    inference).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autometa.functional._ridge import ridge_fit, ridge_predict
from autometa.meta._base import MetaLearner, masked_predict, register_learner
from autometa.meta._in_context import check_batch, check_dims, permute_slots
from autometa.meta._in_context_regression import TARGET_CLIP, BarRegression
from autometa.tasks._task import TaskBatch

__all__ = ["InContextRegressionV2", "InContextV2", "InContextV2State", "permute_labels"]


class InContextV2State(NamedTuple):
    """What :meth:`InContextV2.adapt` returns.

    Attributes
    ----------
    keys, values : list of Tensor, each (T, F + 1, heads, K + S, width // heads)
        Per block, the column-attention keys and values of the thinking and support rows.
    context_mask : Tensor (T, K + S), bool
        True for thinking rows and real support rows.
    columns : Tensor (T, F), int64
        The active input slots of each task, in order (the cells the model reads).
    column_mask : Tensor (T, F), bool
        True for real columns (tasks with fewer than ``F`` active columns are padded).
    readin : object, optional
        What the learner fitted on the support rows for its query rows' read-in (with
        ``ridge_readin``: a :class:`~autometa.functional.RidgeFit`); None otherwise.
    """

    keys: list[Tensor]
    values: list[Tensor]
    context_mask: Tensor
    columns: Tensor
    column_mask: Tensor
    readin: Any = None


class _RMSNorm(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, eps=1e-6)


def _heads(t: Tensor, heads: int) -> Tensor:
    """``[..., L, w] -> [..., heads, L, w // heads]``."""
    *lead, L, w = t.shape
    return t.reshape(*lead, L, heads, w // heads).transpose(-3, -2)


def _attend(q: Tensor, k: Tensor, v: Tensor, key_mask: Tensor) -> Tensor:
    """Attention over the last-but-one axis with a key mask ``(T, L_k)`` on the first axis.

    Lead axes are flattened to one batch axis for the fused kernels, and an all-true mask is
    dropped (the prior's batches carry no padding), which lets the CPU take its fast path.
    """
    lead = q.shape[:-2]
    q4, k4, v4 = (t.reshape(-1, *t.shape[-3:]) for t in (q, k, v))
    mask = None
    if not bool(key_mask.all()):
        per_task = q4.shape[0] // key_mask.shape[0]
        mask = key_mask.repeat_interleave(per_task, dim=0)[:, None, None, :]
    return F.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask).reshape(*lead, *q.shape[-2:])


def _merge(t: Tensor) -> Tensor:
    """Inverse of :func:`_heads`."""
    *lead, h, L, d = t.shape
    return t.transpose(-3, -2).reshape(*lead, L, h * d)


class _Block(nn.Module):
    """Feature attention within rows, column attention over context rows, MLP."""

    def __init__(self, width: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_f = _RMSNorm(width)
        self.qkv_f = nn.Linear(width, 3 * width, bias=False)
        self.norm_r = _RMSNorm(width)
        self.q_r = nn.Linear(width, width, bias=False)
        self.kv_r = nn.Linear(width, 2 * width, bias=False)
        self.norm_m = _RMSNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width, bias=False),
            nn.GELU(),
            nn.Linear(mlp_ratio * width, width, bias=False),
        )

    def feature_attention(self, h: Tensor, token_mask: Tensor) -> Tensor:
        """``h``: (T, n, F + 1, w); ``token_mask``: (T, F + 1) -> attention within each row."""
        q, k, v = (_heads(t, self.heads) for t in self.qkv_f(self.norm_f(h)).chunk(3, dim=-1))
        att = _attend(q, k, v, token_mask)
        return h + _merge(att)

    def column_keys_values(self, h_ctx: Tensor) -> tuple[Tensor, Tensor]:
        """Keys/values ``(T, F + 1, heads, K + S, d)`` of context rows ``h_ctx`` (T, K + S, F + 1, w)."""
        k, v = self.kv_r(self.norm_r(h_ctx)).transpose(1, 2).chunk(2, dim=-1)
        return _heads(k, self.heads), _heads(v, self.heads)

    def column_attention(self, h: Tensor, k: Tensor, v: Tensor, context_mask: Tensor) -> Tensor:
        """Rows ``h`` (T, n, F + 1, w) attend down each column to the context keys/values."""
        q = _heads(self.q_r(self.norm_r(h)).transpose(1, 2), self.heads)  # T, F+1, heads, n, d
        att = _attend(q, k, v, context_mask)
        return h + _merge(att).transpose(1, 2)

    def mlp_step(self, h: Tensor) -> Tensor:
        return h + self.mlp(self.norm_m(h))


def _check_ridge_options(ridge_readin: bool, ridge_expert: bool) -> None:
    if ridge_expert and not ridge_readin:
        raise ValueError(
            "ridge_expert reads the ridge fit of ridge_readin; set ridge_readin=True too."
        )


def permute_labels(batch: TaskBatch, generator: torch.Generator | None = None) -> TaskBatch:
    """Relabel each task's classes by a random permutation of its ``n_classes`` labels.

    Parameters
    ----------
    batch : TaskBatch
    generator : torch.Generator, optional
        CPU generator for the permutations (torch's global one when None).

    Returns
    -------
    TaskBatch
        The same tasks with labels permuted (support and query rows alike).
    """
    T, C = batch.class_mask.shape
    keys = torch.rand(T, C, generator=generator).to(batch.y_support.device)
    keys = keys.masked_fill(~batch.class_mask, 2.0)  # absent classes stay after the present ones
    perm = torch.argsort(torch.argsort(keys, dim=1), dim=1)  # class c -> its rank among the keys
    return replace(
        batch,
        y_support=torch.gather(perm, 1, batch.y_support),
        y_query=torch.gather(perm, 1, batch.y_query),
    )


@register_learner("in-context-v2")
class InContextV2(MetaLearner):
    """Per-cell in-context classifier (see the module docstring).

    Parameters
    ----------
    d_max : int, default=64
        Width of the encoded feature axis (input slots).
    c_max : int, default=10
        Classes per forward pass (more are served by output codes in
        :func:`~autometa.meta._in_context.in_context_proba`).
    width : int, default=96
        Token width.
    depth : int, default=4
        Blocks.
    heads : int, default=4
        Attention heads (must divide ``width``).
    mlp_ratio : int, default=2
        Hidden width of the MLPs in multiples of ``width``.
    thinking_rows : int, default=16
        Learned context rows (0 turns them off).
    group_offsets : tuple of int, default=(0, 1, 3, 7)
        Columns embedded into each cell token, as offsets from the cell's column (modulo the
        task's column count). ``(0,)`` turns feature grouping off.
    augment : bool, default=True
        In training mode, shuffle column placements and permute labels per task.
    ridge_readin : bool, default=False
        Read a closed-form linear classifier of the support rows as an input: ``adapt`` fits
        ridge regression of the one-hot labels on the encoded support rows
        (:func:`~autometa.functional.ridge_fit`, penalty by leave-one-out error), and each row's
        target token adds its class scores mapped through the label embeddings, times a learned
        gate (a support row's leave-one-out scores, so that they are distributed as a query
        row's are). The gate starts at zero, so a learner grown from one without the read-in
        starts as that learner.
    ridge_expert : bool, default=False
        With ``ridge_readin``: also add each query row's ridge class scores to its logits,
        times a weight the learner reads off the row's features (a linear gate that starts at
        zero): the features decide how far to trust the linear fit.

    Attributes
    ----------
    inference_passes : int
        The feature placements the estimators read a task with when ``n_ensemble="auto"``: 1.
        Each cell token already sees its grouped neighbours, a pass costs about ten times a v1
        pass, and on the regressor's validation tables one pass scored as well as four
        (``docs/in_context.md``).

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.meta import InContextV2
    >>> from autometa.tasks import SyntheticPrior, collate_tasks
    >>> learner = InContextV2(d_max=8, c_max=3, width=32, depth=1, thinking_rows=2)
    >>> batch = collate_tasks([SyntheticPrior(d_max=8, c_max=3).sample(np.random.default_rng(0))], c_max=3)
    >>> learner.predict(learner.adapt(batch), batch.x_query, batch).shape[-1]
    3
    """

    inference_passes = 1

    def __init__(
        self,
        d_max: int = 64,
        c_max: int = 10,
        width: int = 96,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 2,
        thinking_rows: int = 16,
        group_offsets: tuple[int, ...] | list[int] = (0, 1, 3, 7),
        augment: bool = True,
        ridge_readin: bool = False,
        ridge_expert: bool = False,
    ) -> None:
        super().__init__()
        check_dims(
            d_max=d_max, c_max=c_max, width=width, depth=depth, heads=heads, mlp_ratio=mlp_ratio
        )
        if (
            isinstance(thinking_rows, bool)
            or not isinstance(thinking_rows, int)
            or thinking_rows < 0
        ):
            raise ValueError(f"thinking_rows must be a non-negative int; got {thinking_rows!r}.")
        offsets = tuple(int(o) for o in group_offsets)
        if (
            not offsets
            or offsets[0] != 0
            or any(o < 0 for o in offsets)
            or len(set(offsets)) != len(offsets)
        ):
            raise ValueError(
                f"group_offsets must start with 0 and hold distinct non-negative ints; got {group_offsets!r}."
            )
        self.d_max, self.c_max, self.width, self.depth = d_max, c_max, width, depth
        self.heads, self.mlp_ratio, self.thinking_rows = heads, mlp_ratio, thinking_rows
        self.group_offsets, self.augment = offsets, bool(augment)
        self.cell = nn.Linear(len(offsets), width)
        self.label = nn.Embedding(c_max + 1, width)  # index c_max: "unknown" (query rows)
        self.think = nn.Parameter(torch.randn(thinking_rows, width) * 0.02)
        self.blocks = nn.ModuleList(_Block(width, heads, mlp_ratio) for _ in range(depth))
        self.head_norm = _RMSNorm(2 * width)
        self.head = nn.Linear(2 * width, c_max)
        nn.init.normal_(self.label.weight, std=0.02)
        _check_ridge_options(ridge_readin, ridge_expert)
        self.ridge_readin = bool(ridge_readin)
        if self.ridge_readin:
            self.ridge_gate = nn.Parameter(torch.zeros(width))
        self._init_expert(ridge_expert)

    def _init_expert(self, ridge_expert: bool) -> None:
        """Set ``ridge_expert`` and, with it, the expert's gate (registered last, at zero)."""
        self.ridge_expert = bool(ridge_expert)
        if self.ridge_expert:
            self.expert_gate = nn.Linear(2 * self.width, 1)
            nn.init.zeros_(self.expert_gate.weight)
            nn.init.zeros_(self.expert_gate.bias)

    def get_config(self) -> dict[str, Any]:
        return {
            "d_max": self.d_max, "c_max": self.c_max, "width": self.width, "depth": self.depth,
            "heads": self.heads, "mlp_ratio": self.mlp_ratio, "thinking_rows": self.thinking_rows,
            "group_offsets": list(self.group_offsets), "augment": self.augment,
            # learners trained before the option keep their config as it was
            **({"ridge_readin": True} if self.ridge_readin else {}),
            **({"ridge_expert": True} if self.ridge_expert else {}),
        }  # fmt: skip

    def matrix_parameters(self) -> list[nn.Parameter]:
        """The blocks' weight matrices (what Muon updates; the rest goes to AdamW)."""
        return [p for block in self.blocks for p in block.parameters() if p.ndim == 2]

    # ------------------------------------------------------------------ pieces
    def _check(self, batch: TaskBatch) -> None:
        check_batch(
            self, batch, hint=" Use in_context_proba, which serves more classes by output codes."
        )

    @staticmethod
    def _columns(feature_mask: Tensor) -> tuple[Tensor, Tensor]:
        """Active slots per task in order, padded to the largest count, and their mask."""
        counts = feature_mask.sum(1)
        F_ = max(int(counts.max()), 1)
        order = torch.argsort((~feature_mask).to(torch.int8), dim=1, stable=True)[:, :F_]
        return order, torch.arange(F_, device=feature_mask.device)[None, :] < counts[:, None]

    def _cells(self, x: Tensor, columns: Tensor, column_mask: Tensor) -> Tensor:
        """Cell tokens ``(T, n, F, w)`` of rows ``x`` (T, n, D), feature grouping included."""
        T, n, _ = x.shape
        F_ = columns.shape[1]
        vals = torch.gather(x, 2, columns[:, None, :].expand(T, n, F_)) * column_mask[
            :, None, :
        ].to(x.dtype)
        count = column_mask.sum(1, keepdim=True).clamp(min=1)  # (T, 1)
        j = torch.arange(F_, device=x.device)[None, :]
        groups = [vals] + [
            torch.gather(vals, 2, ((j + o) % count)[:, None, :].expand(T, n, F_))
            for o in self.group_offsets[1:]
        ]
        return self.cell(torch.stack(groups, dim=-1))

    def _target_tokens(self, y: Tensor | None, T: int, n: int, device: torch.device) -> Tensor:
        """Target tokens ``(T, n, w)``: the label's embedding, or "unknown" (``y`` None: query rows)."""
        if y is None:
            y = torch.full((T, n), self.c_max, dtype=torch.long, device=device)
        return self.label(y)

    def _rows(
        self,
        x: Tensor,
        y: Tensor | None,
        columns: Tensor,
        column_mask: Tensor,
        extra: Tensor | None = None,
    ) -> Tensor:
        """Tokens ``(T, n, F + 1, w)``: cells plus the target token (plus ``extra``, a read-in)."""
        target = self._target_tokens(y, x.shape[0], x.shape[1], x.device)
        if extra is not None:
            target = target + extra
        return torch.cat([self._cells(x, columns, column_mask), target[:, :, None, :]], dim=2)

    def _support_readin(self, batch: TaskBatch) -> tuple[Any, Tensor | None]:
        """What the learner fits on the support rows for its read-in, and the support rows'
        target-token addition ``(T, S, w)``; ``(None, None)`` without ``ridge_readin``."""
        if not self.ridge_readin:
            return None, None
        onehot = F.one_hot(batch.y_support, self.c_max).to(batch.x_support.dtype)
        fit, loo = ridge_fit(batch.x_support, onehot, batch.support_mask, batch.feature_mask)
        return fit, self._score_token(loo)

    def _query_readin(self, fit: Any, x: Tensor, batch: TaskBatch) -> Tensor | None:
        """The target-token addition ``(T, n, w)`` of rows ``x`` from the support fit ``fit``."""
        if fit is None:
            return None
        return self._score_token(ridge_predict(fit, x, batch.feature_mask))

    def _score_token(self, scores: Tensor) -> Tensor:
        """Class scores ``(T, n, c_max)`` as a target-token addition: through the label embeddings, gated."""
        scores = scores.to(self.ridge_gate.dtype).clamp(-2.0, 2.0)
        return self.ridge_gate * (scores @ self.label.weight[: self.c_max])

    # ------------------------------------------------------------------ the interface
    def adapt(self, batch: TaskBatch) -> InContextV2State:
        """Run thinking and support rows through the blocks; cache each block's column keys/values."""
        self._check(batch)
        columns, column_mask = self._columns(batch.feature_mask)
        T = batch.n_tasks
        readin, extra = self._support_readin(batch)
        h = self._rows(batch.x_support, batch.y_support, columns, column_mask, extra)
        if self.thinking_rows:
            think = self.think[None, :, None, :].expand(T, -1, h.shape[2], -1)
            h = torch.cat([think, h], dim=1)
        context_mask = torch.cat(
            [
                torch.ones(T, self.thinking_rows, dtype=torch.bool, device=h.device),
                batch.support_mask,
            ],
            dim=1,
        )
        token_mask = torch.cat(
            [column_mask, torch.ones(T, 1, dtype=torch.bool, device=h.device)], dim=1
        )
        keys, values = [], []
        for block in self.blocks:
            h = block.feature_attention(h, token_mask)
            k, v = block.column_keys_values(h)
            keys.append(k)
            values.append(v)
            h = block.mlp_step(block.column_attention(h, k, v, context_mask))
        return InContextV2State(keys, values, context_mask, columns, column_mask, readin)

    def features(self, fast: InContextV2State, x: Tensor, batch: TaskBatch) -> Tensor:
        """The head's input ``(T, n, 2 * width)`` for rows ``x`` given the context state."""
        T = x.shape[0]
        extra = self._query_readin(fast.readin, x, batch)
        h = self._rows(x, None, fast.columns, fast.column_mask, extra)
        token_mask = torch.cat(
            [fast.column_mask, torch.ones(T, 1, dtype=torch.bool, device=x.device)], dim=1
        )
        for block, k, v in zip(self.blocks, fast.keys, fast.values, strict=True):
            h = block.feature_attention(h, token_mask)
            h = block.mlp_step(block.column_attention(h, k, v, fast.context_mask))
        cm = fast.column_mask.to(h.dtype)[:, None, :, None]
        mean_cells = (h[:, :, :-1] * cm).sum(2) / cm.sum(2).clamp(min=1.0)
        return self.head_norm(torch.cat([h[:, :, -1], mean_cells], dim=-1))

    def predict(self, fast: InContextV2State, x: Tensor, batch: TaskBatch) -> Tensor:
        """Masked logits ``(T, n, c_max)`` for rows ``x`` given the context state."""
        features = self.features(fast, x, batch)
        logits = self.head(features)
        if self.ridge_expert:
            scores = ridge_predict(fast.readin, x, batch.feature_mask).clamp(-2.0, 2.0)
            logits = logits + self.expert_gate(features) * scores.to(logits.dtype)
        return masked_predict(logits, batch)

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        """Query cross-entropy; in training mode on shuffled columns and permuted labels."""
        if self.training and self.augment:
            batch = permute_labels(permute_slots(batch))
        return super().meta_loss(batch)


@register_learner("in-context-regression-v2")
class InContextRegressionV2(BarRegression, InContextV2):
    """The v2 backbone with a regression head: a predictive bar distribution per query row.

    The same blocks, cell tokens, grouping and thinking rows as :class:`InContextV2`; a support
    row's target token embeds its standardized target (a linear map), a query row's is a
    learned "unknown" vector, and the head gives logits over ``n_bins`` bins of the
    standardized target, as :class:`~autometa.meta.InContextRegressionLearner` does (so
    :func:`~autometa.meta._in_context_regression.in_context_regression_distribution` serves
    both).

    Parameters
    ----------
    d_max, width, depth, heads, mlp_ratio, thinking_rows, group_offsets
        As for :class:`InContextV2`.
    n_bins : int, default=64
        Bins of the predictive distribution.
    augment : bool, default=True
        In training mode, shuffle column placements per task.
    spacing : bool, default=False
        As for :class:`~autometa.meta.InContextRegressionLearner`.
    ridge_readin : bool, default=False
        Read a closed-form ridge fit of the support rows as an input: ``adapt`` fits ridge
        regression on the encoded support rows (:func:`~autometa.functional.ridge_fit`, the
        penalty chosen per task by leave-one-out error), and each row's target token adds a
        learned embedding of its ridge prediction (a support row's leave-one-out prediction,
        so that it is distributed as a query row's is). The embedding starts at zero, so a
        learner branched from one without the read-in starts as that learner. It gives the
        transformer the linear fit that plain linear tasks need (``docs/in_context.md``).
    ridge_expert : bool, default=False
        With ``ridge_readin``: also multiply each query row's predictive density by a Gaussian
        centred on its ridge prediction, whose width is the ridge fit's leave-one-out error,
        raised to a power the learner reads off the row's features (a linear gate that starts
        at zero, so a learner grown from one without the expert starts as that learner). A
        product of experts: the row's features decide how far to trust the linear fit.
    """

    def __init__(
        self,
        d_max: int = 64,
        width: int = 96,
        depth: int = 3,
        heads: int = 4,
        mlp_ratio: int = 2,
        thinking_rows: int = 16,
        group_offsets: tuple[int, ...] | list[int] = (0, 1, 3, 7),
        n_bins: int = 64,
        augment: bool = True,
        spacing: bool = False,
        ridge_readin: bool = False,
        ridge_expert: bool = False,
    ) -> None:
        _check_ridge_options(ridge_readin, ridge_expert)
        super().__init__(d_max=d_max, c_max=2, width=width, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                         thinking_rows=thinking_rows, group_offsets=group_offsets, augment=augment)  # fmt: skip
        self._init_bars(n_bins, spacing)
        self.label = nn.Linear(1, width)  # the standardized target's embedding
        self.unknown = nn.Parameter(torch.zeros(width))
        self.head = nn.Linear(2 * width, n_bins)
        self.ridge_readin = bool(ridge_readin)
        if self.ridge_readin:
            self.ridge_in = nn.Linear(1, width)
            nn.init.zeros_(self.ridge_in.weight)
            nn.init.zeros_(self.ridge_in.bias)
        # after the regression head: the committed campaigns' optimizer states keep their order
        self._init_expert(ridge_expert)

    def get_config(self) -> dict[str, Any]:
        return self._bar_config(super().get_config())

    def predict(self, fast: Any, x: Tensor, batch: TaskBatch) -> Tensor:
        """Logits ``[T, n, n_bins]`` of the predictive bar distribution of rows ``x``."""
        features = self.features(fast, x, batch)
        logits = self.head(features)
        if not self.ridge_expert:
            return logits
        fit = fast.readin
        z = ridge_predict(fit, x, batch.feature_mask).clamp(-TARGET_CLIP, TARGET_CLIP)  # (T, n)
        width = fit.loo_rmse.clamp(min=0.1)[:, None, None]  # (T, 1, 1)
        mids = 0.5 * (self.borders[1:] + self.borders[:-1])  # (n_bins,)
        log_gauss = (-0.5 * ((mids - z[..., None]) / width) ** 2).clamp(min=-50.0)
        return logits + self.expert_gate(features) * log_gauss.to(logits.dtype)

    def _ridge_token(self, prediction: Tensor) -> Tensor:
        z = prediction.to(self.ridge_in.weight.dtype).clamp(-TARGET_CLIP, TARGET_CLIP)
        return self.ridge_in(z.unsqueeze(-1))

    def _support_readin(self, batch: TaskBatch) -> tuple[Any, Tensor | None]:
        if not self.ridge_readin:
            return None, None
        fit, loo = ridge_fit(
            batch.x_support, batch.y_support.float(), batch.support_mask, batch.feature_mask
        )
        return fit, self._ridge_token(loo)

    def _query_readin(self, fit: Any, x: Tensor, batch: TaskBatch) -> Tensor | None:
        if fit is None:
            return None
        return self._ridge_token(ridge_predict(fit, x, batch.feature_mask))

    def _target_tokens(self, y: Tensor | None, T: int, n: int, device: torch.device) -> Tensor:
        if y is None:
            return self.unknown.expand(T, n, -1)
        return self.label(
            y.to(self.label.weight.dtype).clamp(-TARGET_CLIP, TARGET_CLIP).unsqueeze(-1)
        )

    @property
    def _shuffles_slots(self) -> bool:
        return self.augment
