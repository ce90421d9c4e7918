"""Augmentation ops on padded, batched support sets.

Every op maps a batch of rows to augmented rows of the same shape::

    x_new, y_new = op(x, y, row_mask, feature_mask, magnitude, generator=g)

with ``x: [T, N, D]`` float features, ``y: [T, N, C]`` soft labels (one-hot rows for hard
labels), ``row_mask: [T, N]`` bool (False for padded rows), ``feature_mask: [T, D]`` bool
(False for padded columns) and ``magnitude`` a float or a tensor broadcastable to
``[T, N]`` (one magnitude per task or per row). A single task is the case ``T = 1`` (see
:func:`apply_op` for unbatched inputs). Guarantees of every op:

* shapes and dtypes are preserved; padded rows and padded columns stay exactly zero;
* ``magnitude == 0`` returns the input unchanged (bit for bit);
* the only randomness comes from ``generator`` (a :class:`torch.Generator`), so a seed fixes
  the output;
* partners (for mixup, SMOTE, swap noise) are real rows of the same task;
* labels are those of the parent row, except for ``mixup_cross`` whose soft label is the
  convex combination of the parent's and partner's labels (the parent keeps the larger
  weight: the interpolation weight is at most 0.5);
* where the op is differentiable in its magnitude the gradient flows (noise and
  interpolation ops are reparameterized; the Bernoulli ops -- dropout, swap, flip -- use a
  straight-through estimator).

Tabular ops (``TABULAR_OPS``): ``identity``, ``gaussian_noise``, ``scaling``,
``feature_dropout``, ``swap_noise``, ``mixup``, ``mixup_cross``, ``smote``.
Image ops (``IMAGE_OPS``, rows are flattened images ``C*H*W`` and need ``image_shape``):
``identity``, ``hflip``, ``affine``, ``crop``, ``image_noise``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "IMAGE_OPS",
    "OPS",
    "TABULAR_OPS",
    "AugmentOp",
    "apply_op",
    "check_magnitude",
    "get_op",
]

_OpFn = Callable[..., tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class AugmentOp:
    """One augmentation op.

    Attributes
    ----------
    name : str
        Registry name (what policies and :class:`~autometa.augment.MetaAugmenter` use).
    kind : {"tabular", "image", "any"}
        The inputs it makes sense for.
    max_magnitude : float
        Largest magnitude a learned policy may choose (policies parameterize
        ``magnitude = max_magnitude * sigmoid(raw)``).
    differentiable : bool
        Whether the output is differentiable in the magnitude (reparameterized or
        straight-through).
    soft_labels : bool
        Whether the op produces non-one-hot labels.
    numeric_only : bool
        Whether the op changes values (True) or only moves values between rows (swap noise:
        False). :class:`~autometa.augment.MetaAugmenter` applies value-changing ops only to
        numeric columns.
    description : str
        What the magnitude means.
    """

    name: str
    fn: _OpFn
    kind: str
    max_magnitude: float
    differentiable: bool
    soft_labels: bool
    numeric_only: bool
    description: str

    def __call__(
        self,
        x: Tensor,
        y: Tensor,
        row_mask: Tensor,
        feature_mask: Tensor,
        magnitude: float | Tensor,
        *,
        generator: torch.Generator | None = None,
        image_shape: Sequence[int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        _check_inputs(x, y, row_mask, feature_mask)
        m = check_magnitude(magnitude, self.name, x)
        m = _broadcast_magnitude(m, x.shape[0], x.shape[1], self.name)
        if self.kind == "image":
            image_shape = _check_image_shape(image_shape, x.shape[-1])
        x_new, y_new = self.fn(x, y, row_mask, feature_mask, m, generator, image_shape)
        keep = row_mask.unsqueeze(-1) & feature_mask.unsqueeze(1)
        x_new = torch.where(keep, x_new, torch.zeros((), dtype=x.dtype, device=x.device))
        y_new = torch.where(
            row_mask.unsqueeze(-1), y_new, torch.zeros((), dtype=y.dtype, device=y.device)
        )
        # magnitude exactly zero is the identity, bit for bit
        zero = (m.detach() == 0).unsqueeze(-1)
        return torch.where(zero, x, x_new), torch.where(zero, y, y_new)


# --------------------------------------------------------------------------- validation
def check_magnitude(
    magnitude: float | Tensor, name: str = "op", like: Tensor | None = None
) -> Tensor:
    """Validate a magnitude (non-negative, finite) and return it as a float tensor.

    Raises
    ------
    ValueError
        If the magnitude is negative, NaN or infinite, or has more than two dimensions.
    """
    if isinstance(magnitude, bool):
        raise ValueError(
            f"The magnitude of {name!r} must be a non-negative number; got {magnitude!r}."
        )
    if isinstance(magnitude, Tensor):
        m = magnitude.to(like.dtype if like is not None else torch.float32)
        if like is not None:
            m = m.to(like.device)
    else:
        try:
            m = torch.as_tensor(
                float(magnitude),
                dtype=like.dtype if like is not None else torch.float32,
                device=like.device if like is not None else None,
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"The magnitude of {name!r} must be a non-negative number; got {magnitude!r}."
            ) from exc
    if m.ndim > 2:
        raise ValueError(
            f"The magnitude of {name!r} must be a scalar, [T] or [T, N]; got shape {tuple(m.shape)}."
        )
    md = m.detach()
    if not bool(torch.isfinite(md).all()):
        raise ValueError(f"The magnitude of {name!r} must be finite; got {magnitude!r}.")
    if bool((md < 0).any()):
        raise ValueError(
            f"The magnitude of {name!r} must be >= 0 (0 means no augmentation); got {magnitude!r}."
        )
    return m


def _broadcast_magnitude(m: Tensor, t: int, n: int, name: str) -> Tensor:
    if m.ndim == 1:  # one magnitude per task
        m = m.reshape(-1, 1)
    try:
        return m.expand(t, n)
    except RuntimeError as exc:
        raise ValueError(
            f"The magnitude of {name!r} has shape {tuple(m.shape)}, which does not broadcast to [T={t}, N={n}]."
        ) from exc


def _check_inputs(x: Tensor, y: Tensor, row_mask: Tensor, feature_mask: Tensor) -> None:
    if x.ndim != 3:
        raise ValueError(
            f"x must have shape [T, N, D] (use apply_op for one task); got {tuple(x.shape)}."
        )
    t, n, d = x.shape
    if y.ndim != 3 or y.shape[:2] != (t, n):
        raise ValueError(f"y must be soft labels of shape [T={t}, N={n}, C]; got {tuple(y.shape)}.")
    if row_mask.shape != (t, n) or row_mask.dtype != torch.bool:
        raise ValueError(
            f"row_mask must be a bool tensor of shape [{t}, {n}]; got {tuple(row_mask.shape)} {row_mask.dtype}."
        )
    if feature_mask.shape != (t, d) or feature_mask.dtype != torch.bool:
        raise ValueError(
            f"feature_mask must be a bool tensor of shape [{t}, {d}]; got {tuple(feature_mask.shape)} {feature_mask.dtype}."
        )


def _check_image_shape(image_shape: Sequence[int] | None, d: int) -> tuple[int, int, int]:
    if image_shape is None or len(image_shape) != 3:
        raise ValueError(f"Image ops need image_shape=(C, H, W); got {image_shape!r}.")
    c, h, w = (int(s) for s in image_shape)
    if c * h * w != d:
        raise ValueError(
            f"image_shape={(c, h, w)} has C*H*W={c * h * w} values but rows have {d} features."
        )
    return c, h, w


# --------------------------------------------------------------------------- helpers
def _rand(shape: Sequence[int], like: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.rand(*shape, generator=generator, dtype=like.dtype, device=like.device)


def _randn(shape: Sequence[int], like: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(*shape, generator=generator, dtype=like.dtype, device=like.device)


def _column_stats(x: Tensor, row_mask: Tensor) -> tuple[Tensor, Tensor]:
    """Per-task, per-column mean and standard deviation over the real rows: ``[T, 1, D]``."""
    w = row_mask.to(x.dtype).unsqueeze(-1)
    n = w.sum(1, keepdim=True).clamp_min(1.0)
    mean = (x * w).sum(1, keepdim=True) / n
    var = (((x - mean) * w) ** 2).sum(1, keepdim=True) / n
    return mean, var.clamp_min(0.0).sqrt()


def _bernoulli_st(
    p: Tensor, shape: Sequence[int], like: Tensor, generator: torch.Generator | None
) -> Tensor:
    """Bernoulli(p) draws with a straight-through gradient to ``p`` (value: 0/1)."""
    hard = (_rand(shape, like, generator) < p).to(like.dtype)
    return hard + (p - p.detach())


def _partners(
    labels: Tensor, row_mask: Tensor, generator: torch.Generator | None, same_class: bool
) -> Tensor:
    """A random real partner row for every row (``[T, N]`` indices), never the row itself.

    With ``same_class`` the partner has the same (hard) label. A row without a valid partner
    is its own partner (the op then leaves it unchanged).
    """
    t, n = row_mask.shape
    eye = torch.eye(n, dtype=torch.bool, device=row_mask.device).unsqueeze(0)
    valid = row_mask.unsqueeze(1) & ~eye
    if same_class:
        valid = valid & (labels.unsqueeze(2) == labels.unsqueeze(1))
    score = torch.rand(t, n, n, generator=generator, device=row_mask.device) + 1.0
    score = torch.where(
        valid, score, torch.where(eye, torch.full_like(score, 0.5), torch.zeros_like(score))
    )
    return score.argmax(-1)


def _gather_rows(x: Tensor, idx: Tensor) -> Tensor:
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(*idx.shape, x.shape[-1]))


def _neighbours(
    x: Tensor,
    labels: Tensor,
    row_mask: Tensor,
    feature_mask: Tensor,
    generator: torch.Generator | None,
    k: int,
) -> Tensor:
    """One of the ``k`` nearest same-class real rows of every row (self when there is none)."""
    t, n, _ = x.shape
    xm = x * feature_mask.unsqueeze(1).to(x.dtype)
    with torch.no_grad():
        dist = torch.cdist(xm.detach(), xm.detach())
        eye = torch.eye(n, dtype=torch.bool, device=x.device).unsqueeze(0)
        valid = row_mask.unsqueeze(1) & ~eye & (labels.unsqueeze(2) == labels.unsqueeze(1))
        dist = torch.where(valid, dist, torch.full_like(dist, math.inf))
        kk = max(1, min(k, n))
        d_k, idx_k = torch.topk(dist, kk, dim=-1, largest=False)
        ok = torch.isfinite(d_k)
        n_ok = ok.sum(-1)
        pick = (torch.rand(t, n, generator=generator, device=x.device) * n_ok.clamp_min(1)).long()
        pick = pick.clamp_max(kk - 1)
        chosen = torch.gather(idx_k, -1, pick.unsqueeze(-1)).squeeze(-1)
        self_idx = torch.arange(n, device=x.device).expand(t, n)
        return torch.where(n_ok > 0, chosen, self_idx)


# --------------------------------------------------------------------------- tabular ops
def _identity(x, y, rm, fm, m, g, shape):
    return x, y


def _gaussian_noise(x, y, rm, fm, m, g, shape):
    _, std = _column_stats(x, rm)
    return x + m.unsqueeze(-1) * std * _randn(x.shape, x, g), y


def _scaling(x, y, rm, fm, m, g, shape):
    mean, _ = _column_stats(x, rm)
    factor = torch.exp(m.unsqueeze(-1) * _randn(x.shape, x, g))
    return mean + (x - mean) * factor, y


def _feature_dropout(x, y, rm, fm, m, g, shape):
    mean, _ = _column_stats(x, rm)
    drop = _bernoulli_st(m.clamp_max(1.0).unsqueeze(-1), x.shape, x, g)
    return x + (mean - x) * drop, y


def _swap_noise(x, y, rm, fm, m, g, shape):
    t, n, d = x.shape
    # real rows first (stable), then a uniformly random real row per cell
    order = torch.argsort((~rm).to(torch.int8), dim=1, stable=True)
    n_real = rm.sum(1, keepdim=True).clamp_min(1)
    pos = (_rand((t, n, d), x, g) * n_real.unsqueeze(-1)).long().clamp_max(n - 1)
    rows = torch.gather(order.unsqueeze(-1).expand(t, n, d), 1, pos)
    donor = torch.gather(x, 1, rows)
    swap = _bernoulli_st(m.clamp_max(1.0).unsqueeze(-1), x.shape, x, g)
    return x + (donor - x) * swap, y


def _interpolate(x, y, partner, m, g, mix_labels: bool):
    w = (m * _rand(m.shape, x, g)).unsqueeze(-1)
    xp, yp = _gather_rows(x, partner), _gather_rows(y, partner)
    y_new = y + w * (yp - y) if mix_labels else y
    return x + w * (xp - x), y_new


def _mixup(x, y, rm, fm, m, g, shape):
    partner = _partners(y.argmax(-1), rm, g, same_class=True)
    return _interpolate(x, y, partner, m.clamp_max(1.0), g, mix_labels=False)


def _mixup_cross(x, y, rm, fm, m, g, shape):
    partner = _partners(y.argmax(-1), rm, g, same_class=False)
    return _interpolate(x, y, partner, m.clamp_max(0.5), g, mix_labels=True)


def _smote(x, y, rm, fm, m, g, shape):
    partner = _neighbours(x, y.argmax(-1), rm, fm, g, k=5)
    return _interpolate(x, y, partner, m.clamp_max(1.0), g, mix_labels=False)


# --------------------------------------------------------------------------- image ops
def _as_images(x: Tensor, shape: tuple[int, int, int]) -> Tensor:
    t, n, _ = x.shape
    return x.reshape(t * n, *shape)


def _hflip(x, y, rm, fm, m, g, shape):
    t, n, d = x.shape
    flipped = _as_images(x, shape).flip(-1).reshape(t, n, d)
    do = _bernoulli_st(m.clamp_max(1.0), (t, n), x, g).unsqueeze(-1)
    return x + (flipped - x) * do, y


def _warp(x: Tensor, theta: Tensor, shape: tuple[int, int, int]) -> Tensor:
    t, n, d = x.shape
    imgs = _as_images(x, shape)
    grid = F.affine_grid(theta.reshape(t * n, 2, 3), list(imgs.shape), align_corners=False)
    return F.grid_sample(
        imgs, grid, mode="bilinear", padding_mode="border", align_corners=False
    ).reshape(t, n, d)


def _affine(x, y, rm, fm, m, g, shape):
    t, n, _ = x.shape
    m = m.clamp_max(1.0)
    angle = m * (math.pi / 6) * (2 * _rand((t, n), x, g) - 1)  # up to 30 degrees
    shift = m.unsqueeze(-1) * 0.2 * (2 * _rand((t, n, 2), x, g) - 1)  # up to 10% of the side
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[..., 0]], -1), torch.stack([sin, cos, shift[..., 1]], -1)],
        -2,
    )
    return _warp(x, theta, shape), y


def _crop(x, y, rm, fm, m, g, shape):
    t, n, _ = x.shape
    scale = 1.0 - 0.4 * m.clamp_max(1.0) * _rand((t, n), x, g)  # keep 60-100% of the side
    off = (1.0 - scale).unsqueeze(-1) * (2 * _rand((t, n, 2), x, g) - 1)
    zero = torch.zeros_like(scale)
    theta = torch.stack(
        [torch.stack([scale, zero, off[..., 0]], -1), torch.stack([zero, scale, off[..., 1]], -1)],
        -2,
    )
    return _warp(x, theta, shape), y


def _image_noise(x, y, rm, fm, m, g, shape):
    w = rm.to(x.dtype).unsqueeze(-1)
    n = (w.sum((1, 2), keepdim=True) * x.shape[-1]).clamp_min(1.0)
    mean = (x * w).sum((1, 2), keepdim=True) / n
    std = ((((x - mean) * w) ** 2).sum((1, 2), keepdim=True) / n).sqrt()
    return x + m.unsqueeze(-1) * std * _randn(x.shape, x, g), y


def _op(
    name, fn, kind, max_magnitude, differentiable, description, soft_labels=False, numeric_only=True
):
    return AugmentOp(
        name, fn, kind, max_magnitude, differentiable, soft_labels, numeric_only, description
    )


OPS: dict[str, AugmentOp] = {
    op.name: op
    for op in [
        _op(
            "identity",
            _identity,
            "any",
            0.0,
            False,
            "no change (the policy's way to add fewer augmented rows)",
            numeric_only=False,
        ),
        _op(
            "gaussian_noise",
            _gaussian_noise,
            "tabular",
            1.0,
            True,
            "noise standard deviation, in units of each column's standard deviation",
        ),
        _op(
            "scaling",
            _scaling,
            "tabular",
            0.5,
            True,
            "log-scale jitter of each value's deviation from its column mean",
        ),
        _op(
            "feature_dropout",
            _feature_dropout,
            "tabular",
            0.5,
            True,
            "probability that a value is replaced by its column mean",
        ),
        _op(
            "swap_noise",
            _swap_noise,
            "tabular",
            0.5,
            True,
            "probability that a value is replaced by the same column of a random other row",
            numeric_only=False,
        ),
        _op(
            "mixup",
            _mixup,
            "tabular",
            1.0,
            True,
            "largest interpolation weight toward a random row of the same class",
        ),
        _op(
            "mixup_cross",
            _mixup_cross,
            "tabular",
            0.5,
            True,
            "largest interpolation weight toward a random row of any class (soft labels)",
            soft_labels=True,
        ),
        _op(
            "smote",
            _smote,
            "tabular",
            1.0,
            True,
            "largest interpolation weight toward one of the 5 nearest same-class rows",
        ),
        _op("hflip", _hflip, "image", 1.0, True, "probability of a horizontal flip"),
        _op(
            "affine",
            _affine,
            "image",
            1.0,
            True,
            "rotation up to 30 degrees and shift up to 10% (times magnitude)",
        ),
        _op(
            "crop",
            _crop,
            "image",
            1.0,
            True,
            "random crop keeping down to 60% of each side (times magnitude)",
        ),
        _op(
            "image_noise",
            _image_noise,
            "image",
            1.0,
            True,
            "noise standard deviation in units of the pixel std",
        ),
    ]
}

#: ops that make sense for tabular rows
TABULAR_OPS: tuple[str, ...] = tuple(n for n, op in OPS.items() if op.kind in ("tabular", "any"))
#: ops that make sense for flattened images
IMAGE_OPS: tuple[str, ...] = tuple(n for n, op in OPS.items() if op.kind in ("image", "any"))


def get_op(name: str) -> AugmentOp:
    """The op registered as ``name``.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known ops).
    """
    if not isinstance(name, str) or name not in OPS:
        raise ValueError(f"Unknown augmentation op {name!r}; known ops: {sorted(OPS)}.")
    return OPS[name]


def apply_op(
    name: str,
    x: Tensor,
    y: Tensor,
    magnitude: float | Tensor,
    *,
    n_classes: int | None = None,
    feature_mask: Tensor | None = None,
    generator: torch.Generator | None = None,
    image_shape: Sequence[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Apply one op to a single task given as ``x: [n, d]`` and integer labels ``y: [n]``.

    Returns augmented rows ``[n, d]`` and soft labels ``[n, n_classes]`` (one-hot unless the
    op mixes labels).

    Examples
    --------
    >>> import torch
    >>> from autometa.augment import apply_op
    >>> x = torch.arange(12.0).reshape(6, 2); y = torch.tensor([0, 0, 0, 1, 1, 1])
    >>> x_new, y_soft = apply_op("smote", x, y, 0.5, generator=torch.Generator().manual_seed(0))
    >>> x_new.shape, y_soft.shape
    (torch.Size([6, 2]), torch.Size([6, 2]))
    """
    if x.ndim != 2 or y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"apply_op needs x of shape (n, d) and y of shape (n,); got {tuple(x.shape)}, {tuple(y.shape)}."
        )
    c = int(y.max()) + 1 if n_classes is None else int(n_classes)
    y_soft = F.one_hot(y.long(), c).to(x.dtype)
    fm = (
        torch.ones(x.shape[1], dtype=torch.bool, device=x.device)
        if feature_mask is None
        else feature_mask
    )
    rm = torch.ones(1, x.shape[0], dtype=torch.bool, device=x.device)
    m = check_magnitude(magnitude, name, x)
    if m.ndim == 1:
        m = m.unsqueeze(0)
    x_new, y_new = get_op(name)(
        x[None], y_soft[None], rm, fm[None], m, generator=generator, image_shape=image_shape
    )
    return x_new[0], y_new[0]
