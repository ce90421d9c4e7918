"""MLflow tracking helpers: default local store, runs that never kill work, pyfunc models.

``log_classifier``/``load_classifier`` (a fitted :class:`~autometa.AutoMetaClassifier` as an
MLflow pyfunc model), ``MetaLearnerPyfunc`` and ``log_pyfunc_model`` (a meta-learner
checkpoint served as a pyfunc model) are imported lazily: they pull in ``mlflow.pyfunc``.
``download_model_file`` fetches a model file behind a ``models:/`` or ``runs:/`` URI.
"""

from __future__ import annotations

import importlib
from typing import Any

from autometa.tracking._download import download_model_file, is_mlflow_uri
from autometa.tracking._store import (
    TrackedRun,
    TrackingWarning,
    default_artifact_location,
    default_tracking_uri,
    start_run,
    tracking_disabled_by_env,
)

_LAZY = {
    name: "autometa.tracking._pyfunc"
    for name in (
        "LoggedModel",
        "MetaLearnerPyfunc",
        "load_classifier",
        "log_classifier",
        "log_pyfunc_model",
    )
}

__all__ = [
    "LoggedModel",
    "MetaLearnerPyfunc",
    "TrackedRun",
    "TrackingWarning",
    "default_artifact_location",
    "default_tracking_uri",
    "download_model_file",
    "is_mlflow_uri",
    "load_classifier",
    "log_classifier",
    "log_pyfunc_model",
    "start_run",
    "tracking_disabled_by_env",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'autometa.tracking' has no attribute {name!r}")
