"""autometa: learn how to learn from a pool of past tasks, start every new small-data task warm.

Public names are imported lazily so that ``import autometa`` stays fast and does not pull in
torch or mlflow until they are needed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from autometa._version import __version__

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "AutoMetaClassifier": "autometa.estimators",
    "AutoMetaRegressor": "autometa.estimators",
    "MetaAugmenter": "autometa.augment",
    "load_meta_learner": "autometa.meta",
    "MetaTrainer": "autometa.meta",
    "Task": "autometa.tasks",
    "TabularEncoder": "autometa.tasks",
}

__all__ = [
    "AutoMetaClassifier",
    "AutoMetaRegressor",
    "MetaAugmenter",
    "MetaTrainer",
    "TabularEncoder",
    "Task",
    "__version__",
    "load_meta_learner",
]

if TYPE_CHECKING:  # pragma: no cover
    from autometa.augment import MetaAugmenter
    from autometa.estimators import AutoMetaClassifier, AutoMetaRegressor
    from autometa.meta import MetaTrainer, load_meta_learner
    from autometa.tasks import TabularEncoder, Task


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autometa' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - only while a part is unbuilt
        raise AttributeError(f"autometa.{name} is not available: {exc}") from exc
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
