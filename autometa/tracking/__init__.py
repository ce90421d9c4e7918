"""MLflow tracking helpers: default local store, runs that never kill work, pyfunc models.

``log_classifier``/``load_classifier`` (a fitted :class:`~autometa.AutoMetaClassifier` as an
MLflow pyfunc model) are imported lazily: they pull in ``mlflow.pyfunc``.
"""

from __future__ import annotations

import importlib
from typing import Any

from autometa.tracking._store import (
    TrackedRun,
    TrackingWarning,
    default_artifact_location,
    default_tracking_uri,
    start_run,
    tracking_disabled_by_env,
)

_LAZY = {"log_classifier": "autometa.tracking._pyfunc", "load_classifier": "autometa.tracking._pyfunc"}

__all__ = [
    "TrackedRun",
    "TrackingWarning",
    "default_artifact_location",
    "default_tracking_uri",
    "load_classifier",
    "log_classifier",
    "start_run",
    "tracking_disabled_by_env",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autometa.tracking' has no attribute {name!r}")
