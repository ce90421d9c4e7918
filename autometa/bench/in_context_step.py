"""``autometa bench in-context-step``: what one meta-training step of an in-context recipe costs.

For each campaign preset (``--presets``, default the v1 and v2 recipes) and number type
(``--dtypes``: ``fp32``, and ``bf16`` under ``torch.autocast("cpu")``), on one fixed batch of
``--tasks`` tasks with ``--support`` training rows, 64 rows to classify and 20 numeric columns:

* ``step_cpu_s``: process CPU seconds of the forward and backward pass of the meta-loss (the
  optimizer update is excluded; it is the same few vector operations for every recipe), median
  over ``--repeats``, one torch thread;
* ``saved_mb``: megabytes of tensors autograd keeps for the backward pass (the activations that
  set a step's memory peak), counted once per storage;
* ``mflop_per_query_row``: forward floating-point operations per row to classify, after the same
  training rows, measured by ``torch.utils.flop_counter.FlopCounterMode`` (with CPU attention
  counted, which it leaves out: two multiply-adds per query-key-dimension term) as the difference
  between 128 and 64 rows to classify divided by 64 (prediction is linear in those rows); also
  at ``--flop-support`` training rows, in the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__

_QUERY = 64
_FEATURES = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--presets",
        default="in-context,in-context-v2",
        help="comma-separated campaign presets (autometa meta-train --preset NAME)",
    )
    parser.add_argument("--dtypes", default="fp32,bf16", help="comma-separated: fp32, bf16")
    parser.add_argument("--support", default="128,256", help="comma-separated training rows")
    parser.add_argument("--tasks", type=int, default=8, help="tasks per step")
    parser.add_argument(
        "--flop-support",
        default="512",
        help="comma-separated training rows at which only the forward FLOPs per row to classify "
        "are counted (one task, no step: cheap at any size)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timings per cell (the median is reported)"
    )


def _learner(preset: str) -> Any:
    import torch

    from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign

    with tempfile.TemporaryDirectory() as tmp:
        config = CAMPAIGN_PRESETS[preset]()
        config["tracking"] = False
        campaign = InContextCampaign(tmp, **config)
        torch.manual_seed(0)
        return campaign.learner_class(**campaign.learner_config)


def _batch(learner: Any, n_tasks: int, support: int, query: int, seed: int) -> Any:
    import torch

    from autometa.tasks import Task, collate_tasks

    d_max, c_max = int(learner.d_max), int(learner.c_max)
    rng = np.random.default_rng(seed)
    tasks = []
    for t in range(n_tasks):
        x = np.zeros((support + query, d_max), dtype=np.float32)
        x[:, :_FEATURES] = rng.standard_normal((support + query, _FEATURES))
        y = (x[:, 0] + np.sin(2 * x[:, 1]) > 0).astype(np.int64)
        mask = np.zeros(d_max, dtype=bool)
        mask[:_FEATURES] = True
        tasks.append(
            Task(
                x_support=torch.from_numpy(x[:support]),
                y_support=torch.from_numpy(y[:support]),
                x_query=torch.from_numpy(x[support:]),
                y_query=torch.from_numpy(y[support:]),
                feature_mask=torch.from_numpy(mask),
                n_classes=2,
                name=f"bench/{t}",
            )
        )
    return collate_tasks(tasks, c_max=c_max)


def _autocast(dtype: str) -> Any:
    import torch

    if dtype == "fp32":
        return contextlib.nullcontext()
    if dtype == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    raise ValueError(f"--dtypes: unknown number type {dtype!r}; use fp32 or bf16")


def _step(learner: Any, batch: Any, dtype: str) -> tuple[float, int]:
    """CPU seconds of one forward + backward, and the bytes autograd saved for the backward."""
    import torch

    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return t

    learner.train()
    learner.zero_grad(set_to_none=True)
    t0 = time.process_time()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), _autocast(dtype):
        loss, _ = learner.meta_loss(batch)
    loss.float().backward()
    return time.process_time() - t0, sum(storages.values())


def _cpu_attention_flops(
    query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any
) -> int:
    """FLOPs of CPU scaled-dot-product attention (which torch's counter leaves uncounted):
    ``Q K^T`` and the weighted sum of ``V``, two multiply-adds per term."""
    *lead, length, dim = query_shape
    keys, dim_v = key_shape[-2], value_shape[-1]
    batch = 1
    for n in lead:
        batch *= n
    return 2 * batch * length * keys * (dim + dim_v)


def _forward_flops(learner: Any, batch: Any) -> int:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops}
    learner.eval()
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        learner.meta_loss(batch)
    return int(counter.get_total_flops())


def _flops_per_query_row(learner: Any, support: int) -> float:
    one = _batch(learner, 1, support, _QUERY, seed=support)
    two = _batch(learner, 1, support, 2 * _QUERY, seed=support)
    return (_forward_flops(learner, two) - _forward_flops(learner, one)) / _QUERY


def compute(args: argparse.Namespace) -> BenchResult:
    import torch

    torch.set_num_threads(1)
    presets = [s for s in str(args.presets).split(",") if s]
    dtypes = [s for s in str(args.dtypes).split(",") if s]
    supports = [int(s) for s in str(args.support).split(",") if s]
    repeats = max(1, int(args.repeats))
    n_tasks = max(1, int(args.tasks))
    if args.quick:
        supports, repeats, n_tasks = supports[:1], 1, min(n_tasks, 2)
    rows = []
    for preset in presets:
        learner = _learner(preset)
        for support in supports:
            batch = _batch(learner, n_tasks, support, _QUERY, seed=support)
            per_row = _flops_per_query_row(learner, support)
            for dtype in dtypes:
                _step(learner, batch, dtype)  # warm-up: first calls allocate and pick kernels
                times, saved = [], 0
                for _ in range(repeats):
                    cpu, saved = _step(learner, batch, dtype)
                    times.append(cpu)
                rows.append(
                    {
                        "preset": preset,
                        "dtype": dtype,
                        "support": support,
                        "step_cpu_s": round(statistics.median(times), 4),
                        "saved_mb": round(saved / 2**20, 1),
                        "mflop_per_query_row": round(per_row / 1e6, 2),
                    }
                )
    summary: dict[str, Any] = {}
    flop_supports = [int(s) for s in str(args.flop_support).split(",") if s]
    for preset in presets:
        learner = _learner(preset)
        for support in flop_supports:
            summary[f"{preset}_mflop_per_query_row@support={support}"] = round(
                _flops_per_query_row(learner, support) / 1e6, 2
            )
        for support in supports:
            cell = {
                r["dtype"]: r["step_cpu_s"]
                for r in rows
                if r["preset"] == preset and r["support"] == support
            }
            if "fp32" in cell and "bf16" in cell:
                summary[f"{preset}_bf16_over_fp32@support={support}"] = round(
                    cell["bf16"] / max(cell["fp32"], 1e-9), 4
                )
    return BenchResult(
        name="in-context-step",
        rows=rows,
        columns=[
            "preset",
            "dtype",
            "support",
            "step_cpu_s",
            "saved_mb",
            "mflop_per_query_row",
        ],
        key_columns=["preset", "dtype", "support"],
        params={
            "presets": presets,
            "dtypes": dtypes,
            "support": supports,
            "tasks": n_tasks,
            "query": _QUERY,
            "features": _FEATURES,
            "flop_support": flop_supports,
            "repeats": repeats,
            "threads": 1,
        },
        summary=summary,
        notes=["CPU seconds of this process (one torch thread), median over repeats"],
    )
