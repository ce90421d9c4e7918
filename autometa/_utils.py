"""Small shared helpers: device selection, seeding and date-time columns as numbers."""

from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

_DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device`` into a device.

    ``"auto"`` (or ``None``) picks CUDA when available, else CPU. Under ``torchrun`` the
    ``LOCAL_RANK`` environment variable chooses the GPU index.

    Raises
    ------
    ValueError
        For an unknown device string, or ``"cuda"`` requested where CUDA is not available.
    """
    import torch

    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    if not isinstance(device, str) or device.split(":")[0] not in _DEVICE_CHOICES:
        raise ValueError(
            f"device={device!r} is not understood; use one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'."
        )
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' was requested but CUDA is not available here; use device='auto'."
        )
    return dev


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and torch; return a fresh ``numpy.random.Generator`` for ``seed``."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def time_seconds(values: object) -> np.ndarray:
    """Date-times as seconds since the Unix epoch (UTC for time-zone aware ones), durations as
    seconds; missing values (``NaT``) as NaN. Independent of the unit (ns, us, ms, s)."""
    s = pd.Series(values)
    if pd.api.types.is_timedelta64_dtype(s.dtype):
        out = s / pd.Timedelta(1, "s")
    else:
        out = (s - pd.Timestamp(0, tz=getattr(s.dt, "tz", None))) / pd.Timedelta(1, "s")
    return out.to_numpy(dtype=np.float64, na_value=np.nan)


def table_input_tags(tags: Any) -> Any:
    """``tags`` (scikit-learn ``Tags``) of an estimator that takes whole tables: NaN, string
    and categorical columns allowed. Used by every autometa estimator's ``__sklearn_tags__``."""
    tags.input_tags.allow_nan = True
    tags.input_tags.string = True
    tags.input_tags.categorical = True
    return tags


def check_not_empty(shape: tuple[int, ...]) -> None:
    """Raise scikit-learn's errors for a table of ``shape`` without rows or without columns."""
    for axis, what in ((0, "sample(s)"), (1, "feature(s)")):
        if shape[axis] == 0:
            raise ValueError(
                f"Found array with 0 {what} (shape={shape}) while a minimum of 1 is required."
            )
