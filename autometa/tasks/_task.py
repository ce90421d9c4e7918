"""The one task representation that travels from task sources to meta-learners.

A :class:`Task` holds a support set and a query set as fixed-width float tensors
(``x: [n, d_max]``) with a feature mask and integer class labels ``y: [n]`` in
``range(n_classes)``, ``n_classes <= c_max``; a *regression* task holds float targets
instead (``y`` float32, ``n_classes = 1``; see :attr:`Task.is_regression`). :func:`collate_tasks` stacks several tasks
into a :class:`TaskBatch` of shape ``[tasks, n, d_max]`` (rows padded and masked) so that
inner loops can run under :func:`torch.func.vmap`.

Image tasks use the same type: images are flattened to ``d_max = C * H * W`` and the
conv-4 base net reshapes them (its ``image_shape``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

__all__ = ["MAX_SEED", "SeededPool", "Task", "TaskBatch", "TaskPool", "collate_tasks"]


@dataclass(frozen=True)
class Task:
    """One task: a support set to adapt on and a query set to score.

    Parameters
    ----------
    x_support, x_query : Tensor of shape (n_support, d_max), (n_query, d_max), float32
        Encoded features. Columns where ``feature_mask`` is False are zero.
    y_support, y_query : Tensor of shape (n_support,), (n_query,), int64 or float32
        Class indices in ``range(n_classes)``; or, for a regression task, float targets
        (task sources standardize them by the support set's mean and standard deviation).
    feature_mask : Tensor of shape (d_max,), bool
        True for real (encoded) feature columns, False for padding.
    n_classes : int
        Number of classes of this task (``2 <= n_classes <= c_max`` for training tasks).
    name : str
        Provenance: the data source (data set name, ``"synthetic/mlp"``, ...).
    seed : int or None
        Provenance: the seed that produced this task, when there is one.
    """

    x_support: Tensor
    y_support: Tensor
    x_query: Tensor
    y_query: Tensor
    feature_mask: Tensor
    n_classes: int
    name: str = "unnamed"
    seed: int | None = None

    def __post_init__(self) -> None:
        d = self.feature_mask.shape[-1] if self.feature_mask.ndim else -1
        for part in ("support", "query"):
            x, y = getattr(self, f"x_{part}"), getattr(self, f"y_{part}")
            if x.ndim != 2 or x.shape[1] != d:
                raise ValueError(f"x_{part} must have shape (n, d_max={d}); got {tuple(x.shape)}.")
            if y.ndim != 1 or y.shape[0] != x.shape[0]:
                raise ValueError(
                    f"y_{part} must have shape ({x.shape[0]},) to match x_{part}; got {tuple(y.shape)}."
                )
            if (
                not y.is_floating_point()
                and y.numel()
                and (int(y.min()) < 0 or int(y.max()) >= self.n_classes)
            ):
                raise ValueError(f"y_{part} has labels outside range(n_classes={self.n_classes}).")
        if self.feature_mask.dtype != torch.bool:
            raise ValueError("feature_mask must be a bool tensor.")

    @property
    def d_max(self) -> int:
        return int(self.feature_mask.shape[0])

    @property
    def is_regression(self) -> bool:
        """True for a regression task (float targets)."""
        return bool(self.y_support.is_floating_point())

    @property
    def n_features(self) -> int:
        """Number of real (unmasked) feature columns."""
        return int(self.feature_mask.sum())

    def to(self, device: torch.device | str) -> Task:
        """Return a copy with every tensor on ``device``."""
        return replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device)
                for f in fields(self)
                if isinstance(getattr(self, f.name), Tensor)
            },
        )


@dataclass
class TaskBatch:
    """Several tasks stacked for vectorized inner loops.

    Shapes use ``T`` tasks, ``S`` support rows, ``Q`` query rows (each padded to the largest
    task in the batch), ``D = d_max`` and ``C = c_max``.

    Attributes
    ----------
    x_support : Tensor (T, S, D)
    y_support : Tensor (T, S), int64; padded rows hold 0
    support_mask : Tensor (T, S), bool; True for real rows
    x_query : Tensor (T, Q, D)
    y_query : Tensor (T, Q)
    query_mask : Tensor (T, Q), bool
    feature_mask : Tensor (T, D), bool
    class_mask : Tensor (T, C), bool; True for the classes a task has
    n_classes : Tensor (T,), int64
    names : list of str
    """

    x_support: Tensor
    y_support: Tensor
    support_mask: Tensor
    x_query: Tensor
    y_query: Tensor
    query_mask: Tensor
    feature_mask: Tensor
    class_mask: Tensor
    n_classes: Tensor
    names: list[str] = field(default_factory=list)

    @property
    def n_tasks(self) -> int:
        return int(self.x_support.shape[0])

    @property
    def c_max(self) -> int:
        return int(self.class_mask.shape[1])

    def to(self, device: torch.device | str, non_blocking: bool = False) -> TaskBatch:
        """Return a copy with every tensor on ``device``."""
        return replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device, non_blocking=non_blocking)
                for f in fields(self)
                if isinstance(getattr(self, f.name), Tensor)
            },
        )

    @classmethod
    def for_inference(
        cls,
        x_support: Tensor,
        y_support: Tensor,
        x_query: Tensor | None = None,
        *,
        n_classes: int,
        c_max: int | None = None,
        feature_mask: Tensor | None = None,
        support_mask: Tensor | None = None,
        d_max: int | None = None,
    ) -> TaskBatch:
        """A batch to adapt on (and predict for) at inference time, without query labels.

        Parameters
        ----------
        x_support : Tensor (T, S, d) or (S, d)
            Support rows of ``T`` tasks (one task when 2-D); ``d <= d_max``.
        y_support : Tensor (T, S) or (S,)
            Their labels (class indices, or float targets for regression).
        x_query : Tensor (T, Q, d) or (Q, d), optional
            Rows to predict (all real: ``query_mask`` is True); none by default.
        n_classes : int
            Classes of every task (1 for regression).
        c_max : int, optional
            Width of the class axis (default ``n_classes``).
        feature_mask : Tensor (T, D) or (D,), optional
            Real feature columns; default the first ``d`` columns.
        support_mask : Tensor (T, S), optional
            Real support rows (default all).
        d_max : int, optional
            Pad the feature axis with zero columns up to this width.
        """
        single = x_support.ndim == 2
        if single:
            x_support, y_support = x_support[None], y_support[None]
            x_query = None if x_query is None else x_query[None]
        T, S, d = x_support.shape
        D = d if d_max is None else int(d_max)
        if d > D:
            raise ValueError(f"Rows are {d} columns wide, more than d_max={D}.")
        dev = x_support.device
        if x_query is None:
            x_query = torch.zeros(T, 0, d, dtype=x_support.dtype, device=dev)
        if D > d:
            pad = (0, D - d)
            x_support, x_query = (
                torch.nn.functional.pad(x_support, pad),
                torch.nn.functional.pad(x_query, pad),
            )
        if feature_mask is None:
            feature_mask = torch.arange(D, device=dev) < d
        if feature_mask.ndim == 1:
            feature_mask = feature_mask.expand(T, D)
        k = int(n_classes)
        width = k if c_max is None else int(c_max)
        Q = x_query.shape[1]
        return cls(
            x_support=x_support,
            y_support=y_support,
            support_mask=torch.ones(T, S, dtype=torch.bool, device=dev)
            if support_mask is None
            else support_mask,
            x_query=x_query,
            y_query=torch.zeros(T, Q, dtype=y_support.dtype, device=dev),
            query_mask=torch.ones(T, Q, dtype=torch.bool, device=dev),
            feature_mask=feature_mask,
            class_mask=(torch.arange(width, device=dev) < k).expand(T, width),
            n_classes=torch.full((T,), k, dtype=torch.long, device=dev),
        )

    def slice(self, start: int, stop: int) -> TaskBatch:
        """Tasks ``start:stop`` of the batch (used to shard a batch across DDP ranks)."""
        return replace(
            self,
            **{
                f.name: getattr(self, f.name)[start:stop]
                for f in fields(self)
                if isinstance(getattr(self, f.name), Tensor)
            },
            names=self.names[start:stop],
        )


def _pad_rows(tensors: list[Tensor], n: int, fill: float | int = 0) -> tuple[Tensor, Tensor]:
    out = []
    mask = torch.zeros(len(tensors), n, dtype=torch.bool)
    for i, t in enumerate(tensors):
        pad = n - t.shape[0]
        mask[i, : t.shape[0]] = True
        if pad:
            filler = torch.full((pad, *t.shape[1:]), fill, dtype=t.dtype, device=t.device)
            t = torch.cat([t, filler], dim=0)
        out.append(t)
    return torch.stack(out), mask


def collate_tasks(tasks: list[Task], c_max: int | None = None) -> TaskBatch:
    """Stack tasks into a :class:`TaskBatch`, padding rows and masking the padding.

    Parameters
    ----------
    tasks : list of Task
        Tasks with the same ``d_max``.
    c_max : int, optional
        Width of the class axis; defaults to the largest ``n_classes`` in ``tasks``.

    Raises
    ------
    ValueError
        If ``tasks`` is empty, tasks disagree on ``d_max``, or a task has more than
        ``c_max`` classes.
    """
    if not tasks:
        raise ValueError("collate_tasks needs at least one task.")
    d = {t.d_max for t in tasks}
    if len(d) != 1:
        raise ValueError(f"All tasks in a batch must share d_max; got {sorted(d)}.")
    if len({t.is_regression for t in tasks}) != 1:
        raise ValueError(
            "A batch cannot mix regression tasks (float targets) with classification tasks."
        )
    c_max = max(t.n_classes for t in tasks) if c_max is None else int(c_max)
    if any(t.n_classes > c_max for t in tasks):
        raise ValueError(f"A task has more than c_max={c_max} classes.")
    s = max(t.x_support.shape[0] for t in tasks)
    q = max(t.x_query.shape[0] for t in tasks)
    xs, sm = _pad_rows([t.x_support for t in tasks], s, 0.0)
    ys, _ = _pad_rows([t.y_support for t in tasks], s, 0)
    xq, qm = _pad_rows([t.x_query for t in tasks], q, 0.0)
    yq, _ = _pad_rows([t.y_query for t in tasks], q, 0)
    n_classes = torch.tensor([t.n_classes for t in tasks], dtype=torch.long)
    class_mask = torch.arange(c_max).unsqueeze(0) < n_classes.unsqueeze(1)
    return TaskBatch(
        x_support=xs,
        y_support=ys,
        support_mask=sm,
        x_query=xq,
        y_query=yq,
        query_mask=qm,
        feature_mask=torch.stack([t.feature_mask for t in tasks]),
        class_mask=class_mask,
        n_classes=n_classes,
        names=[t.name for t in tasks],
    )


#: seeds are drawn below this bound (numpy's ``integers`` on int64)
MAX_SEED = 2**63 - 1


class SeededPool:
    """Base of the pools whose every task is regenerated from one integer, its provenance seed.

    :meth:`sample` consumes exactly one integer from ``rng`` and returns
    :meth:`task_from_seed` of it, so a stream of tasks is a stream of seeds and any task of a
    stream can be drawn again alone.
    """

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task; consumes exactly one integer from ``rng``."""
        return self.task_from_seed(int(rng.integers(MAX_SEED)))

    def task_from_seed(self, seed: int) -> Task:
        """The task that :meth:`sample` returns when it draws ``seed``."""
        raise NotImplementedError


@runtime_checkable
class TaskPool(Protocol):
    """Anything that produces tasks: synthetic priors, real data sets, episodes, HPO studies.

    A pool is a deterministic function of the generator it is given: the same
    ``numpy.random.Generator`` state gives the same task. This is what lets a meta-training
    run resume bit-exactly (the trainer saves the generator's state in its checkpoint).

    Attributes
    ----------
    d_max : int
        Width of the encoded feature axis of every task the pool yields.
    c_max : int
        Largest number of classes a task from this pool can have.
    name : str
        Short name for logs and model cards.
    """

    d_max: int
    c_max: int
    name: str

    def sample(self, rng: np.random.Generator) -> Task:
        """Draw one task using only ``rng`` for randomness."""
        ...
