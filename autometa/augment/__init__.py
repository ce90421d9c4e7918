"""Meta-learned data augmentation for small tabular (and image) tasks.

* ops (:data:`OPS`): tabular noise, scaling, feature dropout, swap noise, mixup (within and
  across classes), SMOTE-style interpolation; image flips, affine warps, crops, noise;
* :class:`AugmentationPolicy`: a learnable distribution over ops and magnitudes,
  meta-learned so that adapting on the augmented support set lowers the query loss;
* :class:`AugmentedLearner`: wraps any meta-learner so that it adapts on policy-augmented
  support sets (``autometa meta-train --augment learned``);
* :func:`train_policy`: meta-trains a policy alone for a fixed meta-learner;
* :class:`MetaAugmenter`: an imbalanced-learn style ``fit_resample`` that applies a trained
  policy (the shipped default or a checkpoint) to any data set.
"""

from __future__ import annotations

import importlib
from typing import Any

from autometa.augment._ops import (
    IMAGE_OPS,
    OPS,
    TABULAR_OPS,
    AugmentOp,
    apply_op,
    check_magnitude,
    get_op,
)
from autometa.augment._policy import (
    DEFAULT_IMAGE_OPS,
    DEFAULT_TABULAR_OPS,
    AugmentationPolicy,
    AugmentedSupport,
    UniformPolicy,
    build_policy,
    load_policy,
    save_policy,
    task_statistics,
)

_LAZY = {
    "AugmentedLearner": "autometa.augment._learner",
    "check_policy_trainable": "autometa.augment._learner",
    "soft_cross_entropy": "autometa.augment._learner",
    "train_policy": "autometa.augment._learner",
    "MetaAugmenter": "autometa.augment._resampler",
    "DEFAULT_POLICY_PATH": "autometa.augment._resampler",
}

__all__ = [
    "AugmentOp",
    "AugmentationPolicy",
    "AugmentedLearner",
    "AugmentedSupport",
    "DEFAULT_IMAGE_OPS",
    "DEFAULT_POLICY_PATH",
    "DEFAULT_TABULAR_OPS",
    "IMAGE_OPS",
    "MetaAugmenter",
    "OPS",
    "TABULAR_OPS",
    "UniformPolicy",
    "apply_op",
    "build_policy",
    "check_magnitude",
    "check_policy_trainable",
    "get_op",
    "load_policy",
    "save_policy",
    "soft_cross_entropy",
    "task_statistics",
    "train_policy",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'autometa.augment' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
