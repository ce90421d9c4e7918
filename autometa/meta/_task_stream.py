"""The trainer's task stream, drawn in the training process or ahead of it in a worker process.

:func:`draw_batch` is the one way a meta-batch is drawn: ``meta_batch_size`` tasks from the
pool with the trainer's NumPy generator (one :meth:`sample_batch` call when the pool draws a
whole batch at once), stacked by :func:`~autometa.tasks.collate_tasks`.

:class:`TaskPrefetcher` runs that same function in a :class:`torch.utils.data.DataLoader`
worker process, which starts from a copy of the trainer's generator and draws the batches of
the following steps in order while the training process trains (``prefetch_factor`` batches
ahead, a bounded queue). Each batch comes back with the generator state after it, which the
trainer adopts when it takes the batch: the stream, and the state a checkpoint stores, are the
ones in-process drawing gives, bit for bit, so a run can be resumed or switch workers on and
off at any step.

The stream is sequential (each batch's draws depend on every batch before it, and a batch
draws a varying number of numbers), so one worker produces it; a second worker would have to
replay the first one's draws. Task generation is a small share of a training step for the
in-context learners (about 2% for the v2 preset, see ``docs/in_context.md``), which one worker
hides entirely.

The worker is a fresh process (``forkserver``, else ``spawn``), so the pool must pickle; it
starts once per :meth:`MetaTrainer.fit` (a few CPU-seconds of imports, counted). Each batch
also carries the worker's own CPU time so far (``time.process_time()`` of the worker process,
imports included); :attr:`TaskPrefetcher.cpu_seconds` adds it up, so CPU-hours reported for a
run include the worker's share.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from autometa.tasks._task import TaskBatch, collate_tasks

__all__ = ["TaskPrefetcher", "check_task_workers", "draw_batch"]

#: batches the worker keeps ready ahead of the training step
PREFETCH = 2
#: a fresh process, not a fork of the trainer: a forked child shares the trainer's heap (GBs in a
#: campaign), so every page the trainer writes afterwards is copied (in a probe on the v2 preset:
#: 0.19 instead of 0.09 system CPU-s per step; and the copies can double the memory)
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def draw_batch(pool: Any, rng: np.random.Generator, n_tasks: int, c_max: int) -> TaskBatch:
    """One meta-batch of ``n_tasks`` tasks from ``pool``, drawn with ``rng``, padded to ``c_max`` classes."""
    # a pool that draws a whole batch at once (one shape per batch, no padding) says so
    sample_batch = getattr(pool, "sample_batch", None)
    if callable(sample_batch):
        tasks = list(sample_batch(rng, n_tasks))
    else:
        tasks = [pool.sample(rng) for _ in range(n_tasks)]
    return collate_tasks(tasks, c_max=c_max)


def check_task_workers(value: Any) -> int:
    """``value`` as a number of task workers (0 or 1); a clear error otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"task_workers must be 0 or 1; got {value!r}.")
    if value > 1:
        raise ValueError(
            f"task_workers={value}: the task stream is sequential (each batch continues the generator "
            "where the previous one left it), so one worker process draws it; use task_workers=1."
        )
    return int(value)


class _Stream(IterableDataset):
    """The batches that follow a generator state, each with the state after it and the worker's CPU time."""

    def __init__(self, pool: Any, state: dict[str, Any], n_tasks: int, c_max: int) -> None:
        self.pool, self.state, self.n_tasks, self.c_max = pool, state, n_tasks, c_max

    def __iter__(self) -> Iterator[tuple[TaskBatch, dict[str, Any], float]]:
        rng = np.random.default_rng()
        rng.bit_generator.state = self.state
        while True:
            batch = draw_batch(self.pool, rng, self.n_tasks, self.c_max)
            yield batch, rng.bit_generator.state, time.process_time()


def _as_is(sample: Any) -> Any:
    return sample


class TaskPrefetcher:
    """Draw the trainer's meta-batches in a worker process, ahead of the training step.

    Parameters
    ----------
    pool : TaskPool
    rng : numpy.random.Generator
        The trainer's task-stream generator. The worker starts from a copy of its state;
        :meth:`next` sets it to the state after the batch it returns, exactly as drawing
        in-process would.
    n_tasks, c_max : int
        Tasks per batch and the class axis width (as :func:`draw_batch`).
    prefetch : int
        Batches kept ready (the bound of the queue).

    Use as a context manager; leaving it stops the worker (batches drawn ahead are dropped;
    the generator is where the last batch taken left it).
    """

    def __init__(
        self,
        pool: Any,
        rng: np.random.Generator,
        n_tasks: int,
        c_max: int,
        prefetch: int = PREFETCH,
    ) -> None:
        self._rng = rng
        stream = _Stream(pool, rng.bit_generator.state, int(n_tasks), int(c_max))
        self._loader = DataLoader(
            stream,
            batch_size=None,
            num_workers=1,
            collate_fn=_as_is,
            prefetch_factor=int(prefetch),
            # the loader's base seed comes from this generator, not torch's global one, which
            # would otherwise advance and change the training's own random draws
            generator=torch.Generator().manual_seed(0),
            multiprocessing_context=_START_METHOD,
        )
        self._it: Any = None
        self._reported = 0.0
        self.cpu_seconds = 0.0  #: CPU seconds of the worker process up to the last batch taken

    def __enter__(self) -> TaskPrefetcher:
        self._it = iter(self._loader)
        return self

    def next(self) -> TaskBatch:
        """The next batch of the stream (waits only when the worker has none ready)."""
        if self._it is None:
            raise RuntimeError("TaskPrefetcher.next() is used inside `with TaskPrefetcher(...)`.")
        batch, state, worker_cpu = next(self._it)
        self._rng.bit_generator.state = state
        self.cpu_seconds += worker_cpu - self._reported
        self._reported = worker_cpu
        return batch

    def __exit__(self, *exc: object) -> None:
        it, self._it = self._it, None
        if it is not None:
            it._shutdown_workers()  # now, not whenever the iterator is collected
