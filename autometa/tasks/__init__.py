"""Task sources and the one encoder used at meta-training and at ``fit`` time.

See ``docs/tasks.md``. The data-set registry lives in :mod:`autometa.tasks.datasets`.
"""

from autometa.tasks import datasets, roles
from autometa.tasks._dev_pool import DevDatasetPool
from autometa.tasks._encoder import TabularEncoder, encode_task
from autometa.tasks._episodic import EpisodicPool
from autometa.tasks._images import ImageFolderPool, load_image_folder
from autometa.tasks._pools import DatasetPool, MixturePool
from autometa.tasks._registry import list_pools, make_pool
from autometa.tasks._synthetic import SyntheticPrior
from autometa.tasks._task import Task, TaskBatch, TaskPool, collate_tasks
from autometa.tasks._views import ViewPool, random_view
from autometa.tasks.datasets import duplicates_of, list_datasets, load_dataset

__all__ = [
    "DatasetPool",
    "DevDatasetPool",
    "EpisodicPool",
    "ImageFolderPool",
    "MixturePool",
    "SyntheticPrior",
    "TabularEncoder",
    "Task",
    "TaskBatch",
    "TaskPool",
    "ViewPool",
    "collate_tasks",
    "datasets",
    "duplicates_of",
    "encode_task",
    "list_datasets",
    "list_pools",
    "load_image_folder",
    "load_dataset",
    "make_pool",
    "random_view",
    "roles",
]
