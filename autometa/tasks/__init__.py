"""Task sources and the one encoder used at meta-training and at ``fit`` time."""

from autometa.tasks._task import Task, TaskBatch, TaskPool, collate_tasks

__all__ = sorted(["Task", "TaskBatch", "TaskPool", "collate_tasks"])
