"""A tiny real learner and task pool for the trainer/checkpoint/CLI tests.

``LinearMAML`` is second-order MAML on a linear classifier (a few SGD steps on the
support set with :func:`torch.func.grad`, vmapped over tasks); ``BlobPool`` draws
Gaussian-blob classification tasks from the generator it is given; ``NewClassesPool`` draws
few-shot tasks with fresh class centres each task (the hypernetwork and metric learners' tests). Both are small enough
that a whole meta-training run takes well under a second on one CPU thread.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from autometa.functional._losses import masked_cross_entropy
from autometa.meta._base import LEARNERS, MetaLearner, masked_predict, register_learner
from autometa.tasks import InContextPrior
from autometa.tasks._task import Task, TaskBatch

__all__ = ["BlobPool", "LinearMAML", "SpinPool", "SpinPrior", "spin"]


class LinearMAML(MetaLearner):
    """MAML on a linear classifier: meta-learns the initial weights."""

    def __init__(
        self,
        d_max: int = 6,
        c_max: int = 3,
        inner_steps: int = 2,
        inner_lr: float = 0.5,
        init_seed: int = 0,
    ) -> None:
        super().__init__()
        self.d_max, self.c_max = int(d_max), int(c_max)
        self.inner_steps, self.inner_lr, self.init_seed = (
            int(inner_steps),
            float(inner_lr),
            int(init_seed),
        )
        g = torch.Generator().manual_seed(self.init_seed)
        self.weight = nn.Parameter(0.1 * torch.randn(self.d_max, self.c_max, generator=g))
        self.bias = nn.Parameter(torch.zeros(self.c_max))

    def get_config(self) -> dict[str, Any]:
        return {
            "d_max": self.d_max,
            "c_max": self.c_max,
            "inner_steps": self.inner_steps,
            "inner_lr": self.inner_lr,
            "init_seed": self.init_seed,
        }

    @staticmethod
    def _logits(params: dict[str, Tensor], x: Tensor) -> Tensor:
        return x @ params["weight"] + params["bias"]

    def adapt(self, batch: TaskBatch) -> dict[str, Tensor]:
        init = {"weight": self.weight, "bias": self.bias}

        def one_task(xs: Tensor, ys: Tensor, sm: Tensor, cm: Tensor) -> dict[str, Tensor]:
            params = init
            for _ in range(self.inner_steps):
                grads = torch.func.grad(
                    lambda p: masked_cross_entropy(self._logits(p, xs), ys, sm, cm)
                )(params)
                params = {k: params[k] - self.inner_lr * grads[k] for k in params}
            return params

        return torch.vmap(one_task)(
            batch.x_support, batch.y_support, batch.support_mask, batch.class_mask
        )

    def predict(self, fast: dict[str, Tensor], x: Tensor, batch: TaskBatch) -> Tensor:
        return masked_predict(torch.vmap(self._logits)(fast, x), batch)


if "test-linear-maml" not in LEARNERS:
    register_learner("test-linear-maml")(LinearMAML)
else:  # re-imported under another module name (pytest + subprocess): reuse the registered class
    LinearMAML = LEARNERS["test-linear-maml"]  # type: ignore[misc]  # noqa: F811


class BlobPool:
    """Gaussian blobs: 2..c_max classes, 2..d_max features, k support and q query rows per class.

    Class ``c``'s mean is a prior mean shared by all tasks (fixed by ``prior_seed``) plus
    task-specific noise of scale ``spread``: the structure a meta-learned init can capture.
    """

    def __init__(
        self,
        d_max: int = 6,
        c_max: int = 3,
        k: int = 2,
        q: int = 6,
        spread: float = 1.0,
        name: str = "blobs",
        prior_seed: int = 0,
    ) -> None:
        self.d_max, self.c_max, self.k, self.q, self.spread = d_max, c_max, k, q, spread
        self.name = self.spec = name
        self.prior = 1.5 * np.random.default_rng(prior_seed).normal(size=(c_max, d_max))

    def sample(self, rng: np.random.Generator) -> Task:
        n_classes = int(rng.integers(2, self.c_max + 1))
        d = int(rng.integers(2, self.d_max + 1))
        centers = self.prior[:n_classes, :d] + rng.normal(size=(n_classes, d)) * self.spread

        def rows(per_class: int) -> tuple[Tensor, Tensor]:
            y = np.repeat(np.arange(n_classes), per_class)
            x = np.zeros((len(y), self.d_max), dtype=np.float32)
            x[:, :d] = centers[y] + rng.normal(size=(len(y), d))
            return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

        xs, ys = rows(self.k)
        xq, yq = rows(self.q)
        mask = torch.zeros(self.d_max, dtype=torch.bool)
        mask[:d] = True
        return Task(xs, ys, xq, yq, mask, n_classes, name=self.name)


# pools that cost a known CPU time to draw from (here, so that a task worker process can unpickle them)
def spin(seconds: float) -> None:
    """Burn ``seconds`` of this process's CPU time."""
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        pass


class SpinPrior(InContextPrior):
    """InContextPrior whose every batch costs 0.5 s of CPU to draw (picklable, for the worker)."""

    def sample_batch(self, rng, n_tasks):
        spin(0.5)
        return super().sample_batch(rng, n_tasks)


class SpinPool(BlobPool):
    """BlobPool whose every task costs a known CPU time to draw."""

    def __init__(self, seconds: float, **kw) -> None:
        super().__init__(**kw)
        self.seconds = seconds

    def sample(self, rng):
        spin(self.seconds)
        return super().sample(rng)


class NewClassesPool:
    """Few-shot Gaussian tasks with fresh class centres each task (class-disjoint by design).

    2..c_max classes, 3..d_max features, ``k`` support and ``q`` query rows per class.
    """

    def __init__(
        self, d_max: int = 8, c_max: int = 5, k: int = 3, q: int = 4, n_way: int | None = None
    ) -> None:
        self.d_max, self.c_max, self.k, self.q, self.n_way = d_max, c_max, k, q, n_way
        self.name = "new-classes"

    def sample(self, rng: np.random.Generator) -> Task:
        c = self.n_way or int(rng.integers(2, self.c_max + 1))
        d = int(rng.integers(3, self.d_max + 1))
        centres = 2.0 * rng.normal(size=(c, d))

        def rows(per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
            y = np.repeat(np.arange(c), per_class)
            x = np.zeros((len(y), self.d_max), dtype=np.float32)
            x[:, :d] = centres[y] + rng.normal(size=(len(y), d))
            return torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

        xs, ys = rows(self.k)
        xq, yq = rows(self.q)
        mask = torch.zeros(self.d_max, dtype=torch.bool)
        mask[:d] = True
        return Task(xs, ys, xq, yq, mask, c, name=self.name)


def flat_image_batch() -> TaskBatch:
    """Two 3-way tasks of 4x4 images flattened to 16 columns (6 support, 3 query rows), seeded."""
    from autometa.tasks import collate_tasks

    g = torch.Generator().manual_seed(0)
    tasks = [
        Task(
            torch.rand(6, 16, generator=g),
            torch.arange(3).repeat(2),
            torch.rand(3, 16, generator=g),
            torch.arange(3),
            torch.ones(16, dtype=torch.bool),
            3,
        )
        for _ in range(2)
    ]
    return collate_tasks(tasks)
