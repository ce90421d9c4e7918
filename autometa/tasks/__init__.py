"""Task sources and the one encoder used at meta-training and at ``fit`` time.

See ``docs/tasks.md``. The data-set registry lives in :mod:`autometa.tasks.datasets`, the
roles of the data sets (what trains and what evaluates each shipped part) in
:mod:`autometa.tasks.roles`, and the content audit that checks them (:func:`audit`,
:func:`overlap`) in :mod:`autometa.tasks._audit`. Names are imported on first use, so the torch-free parts (the
registry, the roles, the row samplers, the views) load without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "audit": "autometa.tasks._audit",
    "DatasetPool": "autometa.tasks._pools",
    "DevDatasetPool": "autometa.tasks._dev_pool",
    "EncodedDatasetPool": "autometa.tasks._encoded_pool",
    "EpisodicPool": "autometa.tasks._episodic",
    "ImageFolderPool": "autometa.tasks._images",
    "InContextPrior": "autometa.tasks._in_context_prior",
    "InContextPriorV2": "autometa.tasks._prior_v2",
    "InContextRegressionPrior": "autometa.tasks._regression_prior",
    "MixturePool": "autometa.tasks._pools",
    "RegressionPrior": "autometa.tasks._regression_prior",
    "RegressionTablePool": "autometa.tasks._regression_prior",
    "SyntheticPrior": "autometa.tasks._synthetic",
    "SyntheticPriorV2": "autometa.tasks._prior_v2",
    "TabularEncoder": "autometa.tasks._encoder",
    "Task": "autometa.tasks._task",
    "TaskBatch": "autometa.tasks._task",
    "TaskPool": "autometa.tasks._task",
    "ViewPool": "autometa.tasks._views",
    "collate_tasks": "autometa.tasks._task",
    "duplicates_of": "autometa.tasks.datasets",
    "encode_regression_task": "autometa.tasks._encoder",
    "encode_task": "autometa.tasks._encoder",
    "list_datasets": "autometa.tasks.datasets",
    "list_pools": "autometa.tasks._registry",
    "load_dataset": "autometa.tasks.datasets",
    "load_image_folder": "autometa.tasks._images",
    "make_pool": "autometa.tasks._registry",
    "overlap": "autometa.tasks._audit",
    "random_view": "autometa.tasks._views",
}
_SUBMODULES = ("datasets", "roles")

__all__ = sorted([*_LAZY, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"autometa.tasks.{name}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'autometa.tasks' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
