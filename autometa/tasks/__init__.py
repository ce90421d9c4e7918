"""Task sources and the one encoder used at meta-training and at ``fit`` time."""

from autometa.tasks._encoder import TabularEncoder, encode_task
from autometa.tasks._registry import list_pools, make_pool
from autometa.tasks._synthetic import SyntheticPrior
from autometa.tasks._task import Task, TaskBatch, TaskPool, collate_tasks

__all__ = [
    "SyntheticPrior",
    "TabularEncoder",
    "Task",
    "TaskBatch",
    "TaskPool",
    "collate_tasks",
    "encode_task",
    "list_pools",
    "make_pool",
]
