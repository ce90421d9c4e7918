"""An in-context learner: a transformer reads a task's labelled support rows and classifies query rows.

:class:`InContextLearner` (``algo="in-context"``) is model-based meta-learning in the sense of
TabPFN (Hollmann et al. 2023/2025) and TabICL (Qu et al. 2025): nothing is fitted per task;
one forward pass over the support set (with labels) conditions the network, and query rows are
classified by attending to it. Its weights are meta-trained on a prior of tasks
(:class:`~autometa.tasks.InContextPrior`).

Architecture (a *row-token* transformer)

1. Each row ``x in R^D`` (the :class:`~autometa.tasks.TabularEncoder` output: rank-Gauss
   features, missing values at 0 plus missing-indicator columns, padding columns masked) is
   embedded by one linear map of ``[x, feature_mask]`` and a layer norm. Support rows add a
   learned embedding of their label.
2. ``depth`` pre-norm blocks of multi-head attention and an MLP. **Keys and values come from
   the support rows only**: support rows attend to each other, query rows attend to the
   support rows and never to each other. So a query row's prediction does not depend on the
   other query rows, and the cost is linear in the number of query rows.
3. A layer norm and a linear head give ``c_max`` logits; classes the task lacks are masked.

``adapt(batch)`` runs the support rows through the blocks and returns, per block, the keys and
values of the support rows (the task's *in-context state*); ``predict(state, x, batch)`` pushes
any number of rows through the blocks against that state. ``meta_loss`` is the query
cross-entropy, as for every learner, so :class:`~autometa.meta.MetaTrainer`, checkpoints,
``autometa evaluate`` and MLflow model logging work unchanged.

Why row tokens rather than one token per cell (TabPFN v2's alternating feature/row attention):
measured on this project's 2-core CPU (``../shared/FINDINGS.md``), a row-token model reached
the same held-out AUC per CPU-minute as a per-cell model (0.813 vs 0.811 at 32 rows after
about an hour) while one step costs about a third, and at ``fit`` time its cost is
``O(rows x width^2)`` instead of ``O(rows x features x width^2)``, which is what keeps
``AutoMetaClassifier`` within its one-second budget. Feature order is handled by training on
random placements of the features among the ``D`` input slots (``slot_shuffle``) and by
ensembling placements at inference, which makes the model invariant to feature order in
expectation; label order likewise (random class permutations in training and at inference).

Invariances and limits
    Support-row order: exactly invariant (attention has no positions). Feature order and
    label permutation: invariant in expectation (see above). Up to ``c_max`` classes; more
    are refused by the encoder (``AutoMetaClassifier`` then leaves the member out).
    More features than ``D``: the encoder keeps the ``D`` most informative columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autometa.meta._base import MetaLearner, masked_predict, register_learner
from autometa.tasks._split import stratified_sample
from autometa.tasks._task import TaskBatch

__all__ = [
    "InContextLearner",
    "InContextState",
    "check_batch",
    "check_dims",
    "check_row_width",
    "in_context_proba",
    "permute_slots",
    "placement_logits",
]


def check_dims(**dims: int) -> None:
    """Refuse a learner configuration: every dimension a positive int, ``c_max >= 2``, heads divide width."""
    for name, value in dims.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}.")
    if dims.get("c_max", 2) < 2:
        raise ValueError(f"c_max must be at least 2; got {dims['c_max']}.")
    if dims["width"] % dims["heads"]:
        raise ValueError(f"heads={dims['heads']} must divide width={dims['width']}.")


def check_batch(
    learner: Any, batch: TaskBatch, *, regression: bool = False, hint: str = ""
) -> None:
    """Refuse a batch the learner cannot read: wrong encoded width, too many classes, wrong target kind."""
    if batch.x_support.shape[-1] != learner.d_max:
        raise ValueError(
            f"This in-context learner reads d_max={learner.d_max} encoded features; the batch has "
            f"{batch.x_support.shape[-1]}. Encode tasks with d_max={learner.d_max}."
        )
    if regression and not batch.y_support.is_floating_point():
        raise ValueError(
            f"{type(learner).__name__} needs regression tasks (float targets); got class labels."
        )
    if not regression and batch.c_max > learner.c_max:
        raise ValueError(
            f"This in-context learner handles at most c_max={learner.c_max} classes per pass; the batch has "
            f"{batch.c_max}.{hint}"
        )


class InContextState(NamedTuple):
    """What :meth:`InContextLearner.adapt` returns: per block, the support rows' keys and values.

    Attributes
    ----------
    keys, values : list of Tensor, each (T, heads, S, width // heads)
    support_mask : Tensor (T, S), bool
    """

    keys: list[Tensor]
    values: list[Tensor]
    support_mask: Tensor


class _Block(nn.Module):
    """Pre-norm attention + MLP block whose keys/values come from the support rows only."""

    def __init__(self, width: int, heads: int, mlp_ratio: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )

    def _split(self, t: Tensor) -> Tensor:
        T, n, w = t.shape
        return t.view(T, n, self.heads, w // self.heads).transpose(1, 2)

    def keys_values(self, h_support: Tensor) -> tuple[Tensor, Tensor]:
        k, v = self.kv(self.norm1(h_support)).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(self, h: Tensor, k: Tensor, v: Tensor, key_mask: Tensor) -> Tensor:
        T, n, w = h.shape
        q = self._split(self.q(self.norm1(h)))
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])
        h = h + self.out(att.transpose(1, 2).reshape(T, n, w))
        return h + self.mlp(self.norm2(h))


def permute_slots(batch: TaskBatch, generator: torch.Generator | None = None) -> TaskBatch:
    """Place each task's feature columns in random input slots (one permutation per task).

    Support rows, query rows and the feature mask are permuted together, so the batch holds
    the same tasks with their columns in other slots.

    Parameters
    ----------
    batch : TaskBatch
    generator : torch.Generator, optional
        Source of the permutations (CPU generator); torch's global one when None.

    Returns
    -------
    TaskBatch
    """
    T, D = batch.feature_mask.shape
    perm = torch.argsort(torch.rand(T, D, generator=generator), dim=1).to(batch.x_support.device)

    def cols(x: Tensor) -> Tensor:
        return torch.gather(x, 2, perm[:, None, :].expand_as(x))

    return replace(
        batch,
        x_support=cols(batch.x_support),
        x_query=cols(batch.x_query),
        feature_mask=torch.gather(batch.feature_mask, 1, perm),
    )


@register_learner("in-context")
class InContextLearner(MetaLearner):
    """A transformer that classifies query rows from a labelled support set in one forward pass.

    See the module docstring for the architecture and its invariances.

    Parameters
    ----------
    d_max : int, default=64
        Width of the encoded feature axis (the :class:`~autometa.tasks.TabularEncoder`'s
        ``d_max``).
    c_max : int, default=10
        Largest number of classes.
    width : int, default=128
        Token width.
    depth : int, default=4
        Number of attention blocks.
    heads : int, default=4
        Attention heads (must divide ``width``).
    mlp_ratio : int, default=2
        Hidden width of each block's MLP, in multiples of ``width``.
    slot_shuffle : bool, default=True
        In training mode, place each task's features in random input slots (see the module
        docstring). Inference callers ensemble placements themselves.

    Examples
    --------
    >>> import numpy as np
    >>> from autometa.meta import InContextLearner
    >>> from autometa.tasks import SyntheticPrior, collate_tasks
    >>> learner = InContextLearner(d_max=8, c_max=3, width=32, depth=1)
    >>> batch = collate_tasks([SyntheticPrior(d_max=8, c_max=3).sample(np.random.default_rng(0))], c_max=3)
    >>> learner.predict(learner.adapt(batch), batch.x_query, batch).shape[-1]
    3
    """

    def __init__(
        self,
        d_max: int = 64,
        c_max: int = 10,
        width: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 2,
        slot_shuffle: bool = True,
    ) -> None:
        super().__init__()
        check_dims(
            d_max=d_max, c_max=c_max, width=width, depth=depth, heads=heads, mlp_ratio=mlp_ratio
        )
        self.d_max, self.c_max, self.width, self.depth = d_max, c_max, width, depth
        self.heads, self.mlp_ratio, self.slot_shuffle = heads, mlp_ratio, bool(slot_shuffle)
        self.embed = nn.Linear(2 * d_max, width)
        self.embed_norm = nn.LayerNorm(width)
        self.label = nn.Embedding(c_max, width)
        self.blocks = nn.ModuleList(_Block(width, heads, mlp_ratio) for _ in range(depth))
        self.head_norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, c_max)
        nn.init.normal_(self.label.weight, std=1.0 / math.sqrt(width))

    def get_config(self) -> dict[str, Any]:
        return self.attributes(
            "d_max", "c_max", "width", "depth", "heads", "mlp_ratio", "slot_shuffle"
        )

    def _check(self, batch: TaskBatch) -> None:
        check_batch(self, batch)

    def _embed(self, x: Tensor, feature_mask: Tensor) -> Tensor:
        mask = feature_mask.to(x.dtype)[:, None, :].expand_as(x)
        return self.embed_norm(self.embed(torch.cat([x * mask, mask], dim=-1)))

    def _label_tokens(self, y_support: Tensor) -> Tensor:
        """What a support row's label adds to its token (a learned embedding per class)."""
        return self.label(y_support)

    def adapt(self, batch: TaskBatch) -> InContextState:
        """Run the support rows through the blocks; return their keys/values per block."""
        self._check(batch)
        h = self._embed(batch.x_support, batch.feature_mask) + self._label_tokens(batch.y_support)
        mask = batch.support_mask
        keys, values = [], []
        for block in self.blocks:
            k, v = block.keys_values(h)
            keys.append(k)
            values.append(v)
            h = block(h, k, v, mask)
        return InContextState(keys, values, mask)

    def features(self, fast: InContextState, x: Tensor, batch: TaskBatch) -> Tensor:
        """The head's input ``[T, n, width]`` for rows ``x`` given the support state."""
        h = self._embed(x, batch.feature_mask)
        for block, k, v in zip(self.blocks, fast.keys, fast.values, strict=True):
            h = block(h, k, v, fast.support_mask)
        return self.head_norm(h)

    def predict(self, fast: InContextState, x: Tensor, batch: TaskBatch) -> Tensor:
        """Masked logits ``[T, n, c_max]`` for rows ``x`` given the support state."""
        logits = self.head(self.features(fast, x, batch))
        return masked_predict(logits, batch)

    def meta_loss(self, batch: TaskBatch) -> tuple[Tensor, dict[str, float]]:
        """Query cross-entropy; in training mode with features in random input slots."""
        if self.training and self.slot_shuffle:
            batch = permute_slots(batch)
        return super().meta_loss(batch)


@torch.no_grad()
def in_context_proba(
    learner: InContextLearner,
    x_support: Tensor,
    y_support: Tensor,
    x_query: Tensor,
    feature_mask: Tensor,
    n_classes: int,
    *,
    n_members: int = 4,
    seed: int = 0,
    max_support: int = 1024,
    query_chunk: int = 4096,
) -> Tensor:
    """Class probabilities of query rows: an ensemble over feature placements and label orders.

    Member ``m`` places the features in random input slots and relabels the classes by a
    random permutation (both drawn from ``seed`` and ``m``), classifies the query rows, and
    maps the probabilities back to the original classes; the members' probabilities are
    averaged. All members run as one batch of tasks.

    Parameters
    ----------
    learner : InContextLearner
    x_support : Tensor (S, D); y_support : Tensor (S,), int64 in ``range(n_classes)``
    x_query : Tensor (Q, D); feature_mask : Tensor (D,), bool
    n_classes : int
        Up to ``learner.c_max`` classes are read in one pass per member; more are served by
        *output codes* (:func:`_output_code_proba`).
    n_members : int, default=4
    seed : int, default=0
    max_support : int, default=1024
        Larger support sets are subsampled (stratified, per member) to this many rows; the
        attention cost grows with its square.
    query_chunk : int, default=4096
        Query rows per forward pass (bounds memory; predictions do not depend on it).

    Returns
    -------
    Tensor (Q, n_classes), float32; rows sum to one.
    """
    if n_classes > learner.c_max:
        return _output_code_proba(
            learner, x_support, y_support, x_query, feature_mask, n_classes,
            n_codes=max(int(n_members), 2 * math.ceil(n_classes / learner.c_max) + 2), seed=seed,
            max_support=max_support, query_chunk=query_chunk,
        )  # fmt: skip
    D = check_row_width(learner, x_support)
    was_training = learner.training
    learner.eval()
    gen = torch.Generator().manual_seed(int(seed))
    xs, ys, masks, perms = [], [], [], []
    for m in range(int(n_members)):
        if (
            y_support.numel() > max_support
        ):  # the project's one stratified sampler, seeded per member
            rows = torch.from_numpy(
                np.sort(
                    stratified_sample(
                        y_support.numpy(), int(max_support), np.random.default_rng([seed, m])
                    )
                )
            )
        else:
            rows = torch.arange(y_support.numel())
        slots = torch.argsort(torch.rand(D, generator=gen))
        labels = torch.randperm(n_classes, generator=gen)
        xs.append(x_support[rows][:, slots])
        ys.append(labels[y_support[rows]])
        masks.append(feature_mask[slots])
        perms.append((slots, labels))
    batch = TaskBatch.for_inference(
        torch.stack(xs),
        torch.stack(ys),
        n_classes=n_classes,
        c_max=learner.c_max,
        feature_mask=torch.stack(masks),
    )
    try:
        state = learner.adapt(batch)
        out = torch.zeros(x_query.shape[0], n_classes)
        slots_all = [slots for slots, _ in perms]
        for chunk, logits in placement_logits(
            learner, state, batch, x_query, slots_all, query_chunk
        ):
            proba = torch.softmax(logits.float(), dim=-1)
            for m, (_, labels) in enumerate(perms):
                out[chunk] += proba[m][:, labels]
    finally:
        learner.train(was_training)
    return out / len(perms)


def check_row_width(learner: Any, x: Tensor) -> int:
    """The learner's ``d_max``, after checking that rows ``x`` are encoded with that width."""
    d = int(learner.d_max)
    if x.shape[-1] != d:
        raise ValueError(f"Rows must be encoded with d_max={d}; got width {x.shape[-1]}.")
    return d


def placement_logits(
    learner: Any,
    state: Any,
    batch: TaskBatch,
    x_query: Tensor,
    slots: list[Tensor],
    query_chunk: int,
) -> Iterator[tuple[slice, Tensor]]:
    """The learner's outputs for query rows under each feature placement, chunk by chunk.

    ``batch`` holds one task per placement ``m`` (its features in input slots ``slots[m]``)
    and ``state`` is the learner's ``adapt`` of it. Yields ``(rows, outputs)``: the slice of
    query rows of the chunk (at most ``query_chunk`` rows) and ``outputs[m]``, the outputs for
    those rows placed like member ``m``.
    """
    for lo in range(0, x_query.shape[0], int(query_chunk)):
        xq = x_query[lo : lo + int(query_chunk)]
        xq = torch.stack([xq[:, s] for s in slots])
        yield slice(lo, lo + xq.shape[1]), learner.predict(state, xq, batch)


def _output_code_proba(
    learner: Any,
    x_support: Tensor,
    y_support: Tensor,
    x_query: Tensor,
    feature_mask: Tensor,
    n_classes: int,
    *,
    n_codes: int,
    seed: int,
    max_support: int,
    query_chunk: int,
) -> Tensor:
    """Probabilities over more than ``learner.c_max`` classes from random class groupings.

    Each of ``n_codes`` codes splits the ``n_classes`` labels into ``c_max`` groups of nearly
    equal size (a random balanced assignment drawn from ``seed``), and the learner classifies
    the query rows among the groups in one pass (members with their own feature placements,
    as in :func:`in_context_proba`). A class's score in one code is its group's probability
    shared equally among the group's classes; the decoded probability is the normalized
    geometric mean of those scores over codes (error-correcting output codes with
    probabilistic decoding). Two classes are told apart by every code that puts them in
    different groups, which with ``c_max`` groups is most codes.
    """
    C = learner.c_max
    gen = torch.Generator().manual_seed(int(seed) + 7919)
    log_score = torch.zeros(x_query.shape[0], n_classes)
    for m in range(int(n_codes)):
        group = torch.empty(n_classes, dtype=torch.long)
        group[torch.randperm(n_classes, generator=gen)] = torch.arange(n_classes) % C
        size = torch.bincount(group, minlength=C).to(torch.float32)
        proba = in_context_proba(
            learner, x_support, group[y_support], x_query, feature_mask, C,
            n_members=1, seed=int(seed) * 1009 + m, max_support=max_support, query_chunk=query_chunk,
        )  # fmt: skip
        log_score += torch.log((proba[:, group] / size[group]).clamp_min(1e-12))
    return torch.softmax(log_score / int(n_codes), dim=1)
