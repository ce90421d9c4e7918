"""Meta-learned hyperparameter optimization for Optuna.

:class:`MetaSampler` warm-starts a new study from past studies and from meta-knowledge shipped
with autometa (meta-learned GP hyperparameters, meta-learned initial designs and an archive
of tuning tasks); :class:`MetaKnowledge` is that knowledge, produced by
``python -m autometa.optuna.train``.
"""

from __future__ import annotations

from autometa.optuna._knowledge import (
    DEFAULT_KNOWLEDGE_PATH,
    MetaKnowledge,
    TuningTask,
    task_from_study,
)
from autometa.optuna._sampler import MetaSampler

__all__ = [
    "DEFAULT_KNOWLEDGE_PATH",
    "MetaKnowledge",
    "MetaSampler",
    "TuningTask",
    "task_from_study",
]
