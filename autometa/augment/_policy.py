"""Augmentation policies: distributions over ops and magnitudes, applied to support sets.

A policy turns a (padded, batched) support set into the same support set plus
``n_augment`` augmented rows per real row. Each augmented row is made from its parent row
by one op drawn from the policy's distribution, with the policy's magnitude for that op.

:class:`AugmentationPolicy` is learnable: op probabilities are ``softmax(logits)`` and
magnitudes ``max_magnitude * sigmoid(raw)``, optionally shifted per task by a tiny MLP on
task statistics (rows, features, classes, imbalance). Op choice is relaxed with the
straight-through Gumbel-softmax (Jang et al. 2017): the forward pass uses one op per row,
the backward pass the softmax's gradient; magnitudes get ordinary reparameterized
gradients. Putting probability on ``identity`` is the policy's way of adding fewer
augmented rows, so "how many augmented rows per real row" is learned too
(``n_augment * (1 - p_identity)`` in expectation).

:class:`UniformPolicy` (random op, random magnitude) and :meth:`AugmentationPolicy.fixed`
(hand-set probabilities and magnitudes) are the baselines of ``autometa bench augment``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from autometa.augment._ops import IMAGE_OPS, OPS, get_op
from autometa.meta._integrity import verify_payload, verify_shipped

__all__ = [
    "DEFAULT_IMAGE_OPS",
    "DEFAULT_TABULAR_OPS",
    "AugmentationPolicy",
    "AugmentedSupport",
    "UniformPolicy",
    "build_policy",
    "load_policy",
    "save_policy",
    "task_statistics",
]

DEFAULT_TABULAR_OPS: tuple[str, ...] = (
    "identity",
    "gaussian_noise",
    "scaling",
    "feature_dropout",
    "swap_noise",
    "mixup",
    "mixup_cross",
    "smote",
)
DEFAULT_IMAGE_OPS: tuple[str, ...] = IMAGE_OPS

_FORMAT = "autometa.augment_policy/1"
N_STATS = 4


@dataclass
class AugmentedSupport:
    """A support set with augmented rows appended after the original rows.

    Shapes use ``T`` tasks, ``S`` original rows, ``M = S + n_augment * S`` rows in all.

    Attributes
    ----------
    x : Tensor (T, M, D)
    y : Tensor (T, M, C), soft labels (one-hot for original rows)
    row_mask : Tensor (T, M), bool; augmented copies of padded rows are padding too
    feature_mask : Tensor (T, D), bool
    parent : Tensor (T, M), int64; the original row each row was made from
    op_index : Tensor (T, M), int64; index into ``ops`` of the op used, -1 for original rows
    magnitude : Tensor (T, M); the magnitude used (0 for original rows)
    ops : tuple of str
    """

    x: Tensor
    y: Tensor
    row_mask: Tensor
    feature_mask: Tensor
    parent: Tensor
    op_index: Tensor
    magnitude: Tensor
    ops: tuple[str, ...]

    @property
    def hard_labels(self) -> Tensor:
        """Class of every row (``argmax`` of the soft label; a mixed row keeps its parent's class)."""
        return self.y.argmax(-1)


def task_statistics(y: Tensor, row_mask: Tensor, feature_mask: Tensor) -> Tensor:
    """Simple statistics of each task ``[T, 4]`` that a conditional policy sees.

    ``log(n)``, ``log(d)``, ``log(classes)`` and ``log(largest / smallest class count)``,
    each roughly scaled to ``[0, 1]``. ``y`` holds soft labels ``[T, N, C]``.
    """
    w = row_mask.to(y.dtype)
    n = w.sum(1).clamp_min(1.0)
    d = feature_mask.to(y.dtype).sum(1).clamp_min(1.0)
    counts = (y.detach() * w.unsqueeze(-1)).sum(1)
    present = counts > 0.5
    k = present.sum(1).clamp_min(1).to(y.dtype)
    big = counts.max(1).values.clamp_min(1.0)
    small = torch.where(present, counts, torch.full_like(counts, math.inf)).min(1).values
    small = torch.where(torch.isfinite(small), small, big).clamp_min(1.0)
    return torch.stack(
        [
            n.log() / math.log(1000.0),
            d.log() / math.log(100.0),
            k.log() / math.log(10.0),
            (big / small).log() / math.log(10.0),
        ],
        dim=-1,
    )


def _check_ops(ops: Sequence[str]) -> tuple[str, ...]:
    if isinstance(ops, str) or not isinstance(ops, Sequence) or len(ops) == 0:
        raise ValueError(
            f"ops must be a non-empty list of op names; got {ops!r}. Known ops: {sorted(OPS)}."
        )
    for name in ops:
        get_op(name)
    if len(set(ops)) != len(ops):
        raise ValueError(f"ops has duplicates: {list(ops)}.")
    kinds = {OPS[n].kind for n in ops} - {"any"}
    if len(kinds) > 1:
        raise ValueError(f"A policy cannot mix tabular and image ops; got {list(ops)}.")
    return tuple(ops)


def _check_n_augment(n_augment: Any) -> int:
    if isinstance(n_augment, bool) or not isinstance(n_augment, int) or n_augment < 0:
        raise ValueError(
            f"n_augment (augmented rows per real row) must be an int >= 0; got {n_augment!r}."
        )
    return int(n_augment)


class _PolicyBase(nn.Module):
    """Shared augmentation machinery; subclasses choose ops and magnitudes per row."""

    ops: tuple[str, ...]
    n_augment: int
    image_shape: tuple[int, int, int] | None

    def _choose(
        self, stats: Tensor, n_rows: int, generator: torch.Generator | None, hard: bool
    ) -> tuple[Tensor, Tensor]:
        """Op weights ``[T, M, K]`` (one-hot in the forward pass when ``hard``) and magnitudes ``[T, M, K]``."""
        raise NotImplementedError

    def augment(
        self,
        x: Tensor,
        y: Tensor,
        row_mask: Tensor | None = None,
        feature_mask: Tensor | None = None,
        *,
        n_classes: int | None = None,
        generator: torch.Generator | None = None,
        hard: bool = True,
        n_augment: int | None = None,
    ) -> AugmentedSupport:
        """Append ``n_augment`` augmented rows per real row to a batch of support sets.

        Parameters
        ----------
        x : Tensor (T, S, D)
        y : Tensor (T, S) int64 labels, or (T, S, C) soft labels
        row_mask : Tensor (T, S), bool, optional
            Default: all rows real.
        feature_mask : Tensor (T, D), bool, optional
            Default: all columns real.
        n_classes : int, optional
            Width ``C`` of the label axis for integer ``y`` (default ``y.max() + 1``).
        generator : torch.Generator, optional
            The only source of randomness (a seeded generator fixes the output).
        hard : bool, default=True
            One op per row in the forward pass (straight-through gradients). ``False``
            mixes the ops' outputs with the relaxed Gumbel-softmax weights.
        n_augment : int, optional
            Override the policy's ``n_augment``.
        """
        if x.ndim != 3:
            raise ValueError(f"x must have shape [T, S, D]; got {tuple(x.shape)}.")
        t, s, d = x.shape
        if y.ndim == 2:
            if y.dtype.is_floating_point:
                raise ValueError(
                    "Integer labels y must have an integer dtype; pass soft labels as [T, S, C]."
                )
            c = int(y.max()) + 1 if n_classes is None else int(n_classes)
            y = F.one_hot(y.long().clamp_min(0), c).to(x.dtype)
        elif y.ndim != 3:
            raise ValueError(
                f"y must be labels [T, S] or soft labels [T, S, C]; got {tuple(y.shape)}."
            )
        rm = torch.ones(t, s, dtype=torch.bool, device=x.device) if row_mask is None else row_mask
        fm = (
            torch.ones(t, d, dtype=torch.bool, device=x.device)
            if feature_mask is None
            else feature_mask
        )
        y = y * rm.unsqueeze(-1).to(y.dtype)
        k = self.n_augment if n_augment is None else _check_n_augment(n_augment)
        base_parent = torch.arange(s, device=x.device).expand(t, s)
        if k == 0 or s == 0:
            return AugmentedSupport(
                x,
                y,
                rm,
                fm,
                base_parent,
                torch.full((t, s), -1, device=x.device),
                torch.zeros_like(x[..., 0]),
                self.ops,
            )
        xr, yr, rmr = x.repeat(1, k, 1), y.repeat(1, k, 1), rm.repeat(1, k)
        stats = task_statistics(y, rm, fm)
        weights, mags = self._choose(stats, k * s, generator, hard)
        x_aug = torch.zeros_like(xr)
        y_aug = torch.zeros_like(yr)
        for j, name in enumerate(self.ops):
            w = weights[..., j]
            if hard and not bool((w.detach() != 0).any()) and not w.requires_grad:
                continue
            xo, yo = get_op(name)(
                xr, yr, rmr, fm, mags[..., j], generator=generator, image_shape=self.image_shape
            )
            x_aug = x_aug + w.unsqueeze(-1) * xo
            y_aug = y_aug + w.unsqueeze(-1) * yo
        op_index = weights.detach().argmax(-1)
        magnitude = torch.gather(mags.detach(), -1, op_index.unsqueeze(-1)).squeeze(-1)
        return AugmentedSupport(
            x=torch.cat([x, x_aug], 1),
            y=torch.cat([y, y_aug], 1),
            row_mask=torch.cat([rm, rmr], 1),
            feature_mask=fm,
            parent=torch.cat([base_parent, base_parent.repeat(1, k)], 1),
            op_index=torch.cat([torch.full((t, s), -1, device=x.device), op_index], 1),
            magnitude=torch.cat([torch.zeros_like(x[..., 0]), magnitude.to(x.dtype)], 1),
            ops=self.ops,
        )

    def augment_batch(
        self, batch: Any, *, generator: torch.Generator | None = None, hard: bool = True
    ) -> AugmentedSupport:
        """Augment the support sets of a :class:`~autometa.tasks.TaskBatch`."""
        return self.augment(
            batch.x_support,
            batch.y_support,
            batch.support_mask,
            batch.feature_mask,
            n_classes=batch.class_mask.shape[-1],
            generator=generator,
            hard=hard,
        )


class AugmentationPolicy(_PolicyBase):
    """A learnable distribution over augmentation ops and their magnitudes.

    Parameters
    ----------
    ops : sequence of str, default=DEFAULT_TABULAR_OPS
        Op names (see :data:`autometa.augment.OPS`); include ``"identity"`` to let the
        policy learn how many augmented rows to add.
    n_augment : int, default=2
        Augmented rows per real row.
    conditional : bool, default=True
        Shift op logits and magnitudes per task with a tiny MLP on :func:`task_statistics`
        (its last layer starts at zero, so an untrained conditional policy equals the
        unconditional one).
    hidden : int, default=16
        Width of that MLP.
    init_magnitude : float, default=0.25
        Initial magnitude as a fraction of each op's ``max_magnitude`` (in ``(0, 1)``).
    temperature : float, default=1.0
        Gumbel-softmax temperature.
    image_shape : sequence of 3 ints, optional
        ``(C, H, W)`` for image ops.

    Examples
    --------
    >>> import torch
    >>> from autometa.augment import AugmentationPolicy
    >>> policy = AugmentationPolicy(n_augment=1)
    >>> x = torch.randn(2, 6, 3); y = torch.tensor([[0, 0, 0, 1, 1, 1]] * 2)
    >>> aug = policy.augment(x, y, generator=torch.Generator().manual_seed(0))
    >>> tuple(aug.x.shape), tuple(aug.y.shape)
    ((2, 12, 3), (2, 12, 2))
    """

    def __init__(
        self,
        ops: Sequence[str] = DEFAULT_TABULAR_OPS,
        n_augment: int = 2,
        conditional: bool = True,
        hidden: int = 16,
        init_magnitude: float = 0.25,
        temperature: float = 1.0,
        image_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.ops = _check_ops(ops)
        self.n_augment = _check_n_augment(n_augment)
        if not isinstance(init_magnitude, (int, float)) or not 0.0 < float(init_magnitude) < 1.0:
            raise ValueError(
                f"init_magnitude must be a fraction in (0, 1) of each op's max magnitude; got {init_magnitude!r}."
            )
        if (
            not isinstance(temperature, (int, float))
            or not math.isfinite(temperature)
            or temperature <= 0
        ):
            raise ValueError(f"temperature must be a finite float > 0; got {temperature!r}.")
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden must be a positive int; got {hidden!r}.")
        if any(OPS[n].kind == "image" for n in self.ops) and image_shape is None:
            raise ValueError("A policy with image ops needs image_shape=(C, H, W).")
        self.image_shape = None if image_shape is None else tuple(int(v) for v in image_shape)
        self.conditional, self.hidden = bool(conditional), int(hidden)
        self.init_magnitude, self.temperature = float(init_magnitude), float(temperature)
        k = len(self.ops)
        self.op_logits = nn.Parameter(torch.zeros(k))
        raw = math.log(self.init_magnitude / (1.0 - self.init_magnitude))
        self.magnitude_logits = nn.Parameter(torch.full((k,), raw))
        self.register_buffer(
            "max_magnitude",
            torch.tensor([OPS[n].max_magnitude for n in self.ops], dtype=torch.float32),
        )
        if self.conditional:
            self.context = nn.Sequential(
                nn.Linear(N_STATS, self.hidden), nn.Tanh(), nn.Linear(self.hidden, 2 * k)
            )
            nn.init.zeros_(self.context[-1].weight)
            nn.init.zeros_(self.context[-1].bias)
        else:
            self.context = None

    # ------------------------------------------------------------------ distribution
    def distribution(self, stats: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Op probabilities and magnitudes, ``[T, K]`` each (``[1, K]`` without ``stats``)."""
        logits, raw = self.op_logits.unsqueeze(0), self.magnitude_logits.unsqueeze(0)
        if self.context is not None and stats is not None:
            shift = self.context(stats.to(logits.dtype))
            logits, raw = logits + shift[:, : len(self.ops)], raw + shift[:, len(self.ops) :]
        return torch.softmax(logits, -1), self.max_magnitude * torch.sigmoid(raw)

    def _choose(self, stats, n_rows, generator, hard):
        probs, mags = self.distribution(stats)
        t, k = stats.shape[0], len(self.ops)
        probs = probs.expand(t, k)
        u = torch.rand(t, n_rows, k, generator=generator, device=probs.device, dtype=probs.dtype)
        gumbel = -torch.log(-torch.log(u.clamp(1e-10, 1.0 - 1e-7)))
        soft = torch.softmax(
            (probs.clamp_min(1e-12).log().unsqueeze(1) + gumbel) / self.temperature, -1
        )
        if hard:
            one_hot = F.one_hot(soft.detach().argmax(-1), k).to(soft.dtype)
            weights = one_hot + (soft - soft.detach())
        else:
            weights = soft
        return weights, mags.expand(t, k).unsqueeze(1).expand(t, n_rows, k)

    def describe(self, stats: Tensor | None = None) -> dict[str, dict[str, float]]:
        """``{op: {"probability": p, "magnitude": m}}`` (for one task's ``stats [1, 4]`` if given)."""
        with torch.no_grad():
            probs, mags = self.distribution(stats)
        return {
            n: {"probability": float(probs[0, j]), "magnitude": float(mags[0, j])}
            for j, n in enumerate(self.ops)
        }

    # ------------------------------------------------------------------ constructors, config
    @classmethod
    def fixed(
        cls,
        probabilities: Mapping[str, float],
        magnitudes: Mapping[str, float],
        n_augment: int = 2,
        image_shape: Sequence[int] | None = None,
    ) -> AugmentationPolicy:
        """A hand-set, frozen policy (the "fixed hand policy" baseline).

        Parameters
        ----------
        probabilities : mapping of op name to float
            Op probabilities (normalized here; must be > 0).
        magnitudes : mapping of op name to float
            Magnitude per op, ``0 <= m < max_magnitude`` (ops without an entry get 0; the
            ``identity`` op needs none).
        """
        ops = tuple(probabilities)
        policy = cls(ops=ops, n_augment=n_augment, conditional=False, image_shape=image_shape)
        p = torch.tensor([float(probabilities[o]) for o in ops])
        if not bool(torch.isfinite(p).all()) or bool((p <= 0).any()):
            raise ValueError(f"Op probabilities must be finite and > 0; got {dict(probabilities)}.")
        raw = []
        for o in ops:
            m, top = float(magnitudes.get(o, 0.0)), OPS[o].max_magnitude
            if not math.isfinite(m) or m < 0:
                raise ValueError(f"The magnitude of {o!r} must be finite and >= 0; got {m!r}.")
            if top == 0.0 or m == 0.0:
                raw.append(-math.inf)
            elif m >= top:
                raise ValueError(
                    f"The magnitude of {o!r} must be below its max_magnitude={top}; got {m!r}."
                )
            else:
                raw.append(math.log((m / top) / (1.0 - m / top)))
        with torch.no_grad():
            policy.op_logits.copy_((p / p.sum()).log())
            policy.magnitude_logits.copy_(torch.tensor(raw))
        policy.requires_grad_(False)
        return policy

    def get_config(self) -> dict[str, Any]:
        """Keyword arguments that rebuild this policy (JSON-able)."""
        return {
            "kind": "learned",
            "ops": list(self.ops),
            "n_augment": self.n_augment,
            "conditional": self.conditional,
            "hidden": self.hidden,
            "init_magnitude": self.init_magnitude,
            "temperature": self.temperature,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
        }


class UniformPolicy(_PolicyBase):
    """The "uniformly random policy": every row gets a uniformly random op (``identity``
    excluded) with a magnitude drawn uniformly from ``[0, max_magnitude]`` of that op.

    Has no parameters; the baseline a learned policy must beat.
    """

    def __init__(
        self,
        ops: Sequence[str] = DEFAULT_TABULAR_OPS,
        n_augment: int = 2,
        image_shape: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        ops = tuple(o for o in _check_ops(ops) if o != "identity")
        if not ops:
            raise ValueError("UniformPolicy needs at least one op besides 'identity'.")
        self.ops = ops
        self.n_augment = _check_n_augment(n_augment)
        self.image_shape = None if image_shape is None else tuple(int(v) for v in image_shape)
        self.register_buffer(
            "max_magnitude", torch.tensor([OPS[n].max_magnitude for n in self.ops])
        )

    def _choose(self, stats, n_rows, generator, hard):
        t, k = stats.shape[0], len(self.ops)
        dev, dt = stats.device, stats.dtype
        choice = torch.randint(k, (t, n_rows), generator=generator, device=dev)
        weights = F.one_hot(choice, k).to(dt)
        mags = torch.rand(
            t, n_rows, k, generator=generator, device=dev, dtype=dt
        ) * self.max_magnitude.to(dt)
        return weights, mags

    def get_config(self) -> dict[str, Any]:
        return {
            "kind": "uniform",
            "ops": list(self.ops),
            "n_augment": self.n_augment,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
        }


def build_policy(config: Mapping[str, Any]) -> _PolicyBase:
    """Rebuild a policy from its ``get_config()`` dictionary."""
    if not isinstance(config, Mapping):
        raise ValueError(f"A policy config must be a dict; got {type(config).__name__}.")
    config = dict(config)
    kind = config.pop("kind", "learned")
    if kind == "learned":
        return AugmentationPolicy(**config)
    if kind == "uniform":
        return UniformPolicy(**config)
    raise ValueError(f"Unknown policy kind {kind!r}; use 'learned' or 'uniform'.")


def save_policy(
    policy: _PolicyBase, path: str | Path, metadata: Mapping[str, Any] | None = None
) -> Path:
    """Save a policy (config + weights + JSON-able metadata) to ``path`` atomically."""
    return save_module(path, _FORMAT, policy, metadata, config=policy.get_config())


def save_module(
    path: str | Path,
    fmt: str,
    module: nn.Module,
    metadata: Mapping[str, Any] | None,
    **fields: Any,
) -> Path:
    """Save ``{format, **fields, state_dict, metadata}`` of ``module`` to ``path`` atomically
    (a temporary file next to it, then a rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": fmt,
        **fields,
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        "metadata": dict(metadata or {}),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_policy(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[_PolicyBase, dict[str, Any]]:
    """Load a policy saved by :func:`save_policy`; returns ``(policy, metadata)``.

    Raises
    ------
    ValueError
        If the file does not exist or is not an autometa augmentation policy.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(
            f"No augmentation policy file at {str(path)!r}; pass policy='default' or an existing path."
        )
    verify_shipped(path)  # the shipped policy must match the SHA-256 its model card records
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise ValueError(
            f"Could not read an augmentation policy from {str(path)!r}: {exc}"
        ) from exc
    if isinstance(payload, dict):
        verify_payload(payload, path)
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(
            f"{str(path)!r} is not an autometa augmentation policy (expected format {_FORMAT!r})."
        )
    policy = build_policy(payload["config"])
    policy.load_state_dict(payload["state_dict"])
    return policy, dict(payload.get("metadata", {}))
