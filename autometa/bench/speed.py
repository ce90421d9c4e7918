"""``autometa bench speed``: meta-training throughput of the vectorized inner loop.

Protocol (BENCHMARKS.md, "Meta-training speed"): tasks per second and peak memory of one
full outer iteration (adapt on the support sets, query loss, backward, Adam step) for

* second-order MAML (5 inner SGD steps) and
* the Meta-LSTM learned optimizer (5 inner steps, the paper's detached-input setting),

on the same base net and the same episodes, each computed two ways:

``autometa``
    :func:`autometa.functional.adapt`: one inner loop under :func:`torch.func.vmap` over
    the task axis (``grad_and_value`` per task, batched matrix products).
``reference``
    a Python loop over tasks with ``torch.autograd.grad(create_graph=True)`` and
    ``functional_call``, the way most MAML code is written (for the Meta-LSTM the same loop
    with the LSTM as the update, :func:`autometa.functional.adapt_loop`).

Every configuration (method x implementation x meta-batch) runs in a *fresh subprocess*
so peak memory is not polluted by the others. Peak memory on CPU is the growth of the
process's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) from just
before the first outer iteration to the end (torch allocations are invisible to
``tracemalloc``); on CUDA it is ``torch.cuda.max_memory_allocated``. Time per iteration is
the median over the timed iterations after warm-up iterations; ``speedup`` is reference
time / autometa time, ``mem_ratio`` autometa peak / reference peak. ``cpu_s_per_iter`` is the
median CPU time of the process per iteration (``time.process_time``) and ``cpu_speedup`` its
ratio: on a CPU shared with other jobs, wall time counts the time the worker waited for a
core, CPU time does not, so ``cpu_speedup`` is the ratio to read there.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__

_IMPLS = ("reference", "autometa")
_METHODS = ("maml", "meta-lstm")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--meta-batch",
        type=int,
        nargs="+",
        default=[8, 32],
        help="tasks per outer step (default: 8 32)",
    )
    parser.add_argument("--methods", nargs="+", choices=_METHODS, default=list(_METHODS))
    parser.add_argument("--inner-steps", type=int, default=5)
    parser.add_argument(
        "--d-max", type=int, default=32, help="feature width of the episodes and base net"
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden widths")
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--queries", type=int, default=15, help="query rows per class")
    parser.add_argument(
        "--iters", type=int, default=10, help="timed outer iterations per configuration"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed outer iterations first")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads in every worker (same for all)"
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto")
    parser.add_argument("--seed", type=int, default=0)


def _episodes(cfg: dict[str, Any], n_tasks: int, device: Any):
    """Synthetic N-way K-shot episodes (Gaussian class blobs), identical for every worker."""
    import torch

    from autometa.tasks._task import Task, collate_tasks

    g = torch.Generator().manual_seed(cfg["seed"])
    d, ways = cfg["d_max"], cfg["ways"]
    tasks = []
    for _ in range(n_tasks):
        mu = 1.5 * torch.randn(ways, d, generator=g)
        ys = torch.arange(ways).repeat(cfg["shots"])
        yq = torch.arange(ways).repeat(cfg["queries"])
        xs = mu[ys] + torch.randn(len(ys), d, generator=g)
        xq = mu[yq] + torch.randn(len(yq), d, generator=g)
        tasks.append(Task(xs, ys, xq, yq, torch.ones(d, dtype=torch.bool), ways, name="speed"))
    return collate_tasks(tasks, c_max=ways).to(device)


def _reference_maml_loss(learner: Any, batch: Any) -> Any:
    """Second-order MAML written the usual way: a Python loop over tasks."""
    import torch
    from torch.func import functional_call

    from autometa.functional import masked_cross_entropy

    net, lr = learner.net, learner.inner_lr
    params = dict(net.named_parameters())
    total = 0.0
    for t in range(batch.n_tasks):
        fast = params
        fm, cm = batch.feature_mask[t], batch.class_mask[t]
        for _ in range(learner.inner_steps):
            logits = functional_call(net, fast, (batch.x_support[t], fm))
            loss = masked_cross_entropy(logits, batch.y_support[t], batch.support_mask[t], cm)
            grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True)
            fast = {k: p - lr * g for (k, p), g in zip(fast.items(), grads, strict=True)}
        logits = functional_call(net, fast, (batch.x_query[t], fm))
        total = total + masked_cross_entropy(logits, batch.y_query[t], batch.query_mask[t], cm)
    return total / batch.n_tasks


def _reference_lstm_loss(learner: Any, batch: Any) -> Any:
    """The Meta-LSTM meta-loss with the per-task loop (:func:`adapt_loop`)."""
    import torch

    from autometa.functional import adapt_loop, masked_cross_entropy, support_from_batch
    from autometa.functional._adapt import batched_forward

    fast = adapt_loop(
        learner.net,
        dict(learner.net.named_parameters()),
        support_from_batch(batch),
        steps=learner.inner_steps,
        update_rule=learner.rule,
        first_order=learner.first_order,
    )
    logits = batched_forward(learner.net, fast, batch.x_query, batch.feature_mask)
    losses = [
        masked_cross_entropy(logits[t], batch.y_query[t], batch.query_mask[t], batch.class_mask[t])
        for t in range(batch.n_tasks)
    ]
    return torch.stack(losses).mean()


def _worker(cfg: dict[str, Any]) -> dict[str, Any]:
    """Time one configuration; runs in its own process."""
    import resource

    import torch

    from autometa._utils import resolve_device
    from autometa.meta import MAML, MetaLSTM

    torch.set_num_threads(cfg["threads"])
    device = resolve_device(cfg["device"])
    torch.manual_seed(cfg["seed"])
    net = {"kind": "mlp", "d_max": cfg["d_max"], "c_max": cfg["ways"], "hidden": cfg["hidden"]}
    if cfg["method"] == "maml":
        learner = MAML(net=net, inner_steps=cfg["inner_steps"], inner_lr=0.4, first_order=False)
        ref_loss = _reference_maml_loss
    else:
        learner = MetaLSTM(net=net, inner_steps=cfg["inner_steps"], init_lr=0.1)
        ref_loss = _reference_lstm_loss
    learner.to(device)
    opt = torch.optim.Adam(learner.parameters(), lr=1e-3)
    batch = _episodes(cfg, cfg["meta_batch"], device)

    def step() -> float:
        if cfg["impl"] == "autometa":
            loss, _ = learner.meta_loss(batch)
        else:
            loss = ref_loss(learner, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base_cuda = torch.cuda.memory_allocated(device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    losses, times, cpu_times = [], [], []
    for i in range(cfg["warmup"] + cfg["iters"]):
        sync()
        t0, c0 = time.perf_counter(), time.process_time()
        losses.append(step())
        sync()
        if i >= cfg["warmup"]:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)
    if device.type == "cuda":
        peak_mb = (torch.cuda.max_memory_allocated(device) - base_cuda) / 2**20
    else:
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak_mb = (rss1 - rss0) / 1024  # ru_maxrss is in KiB on Linux
    return {
        "s_per_iter": statistics.median(times),
        "cpu_s_per_iter": statistics.median(cpu_times),
        "peak_mem_mb": peak_mb,
        "first_loss": losses[0],
        "device": str(device),
    }


def _run_worker(cfg: dict[str, Any]) -> dict[str, Any]:
    code = "import json,sys; from autometa.bench.speed import _worker; print('@@' + json.dumps(_worker(json.loads(sys.argv[1]))))"
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(cfg)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"speed worker failed for {cfg}:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1]
    return json.loads(line[2:])


def compute(args: argparse.Namespace) -> BenchResult:
    base = {
        "inner_steps": args.inner_steps,
        "d_max": args.d_max,
        "hidden": list(args.hidden),
        "ways": args.ways,
        "shots": args.shots,
        "queries": args.queries,
        "iters": args.iters,
        "warmup": args.warmup,
        "threads": args.threads,
        "device": args.device,
        "seed": args.seed,
    }
    meta_batches = list(args.meta_batch)
    if args.quick:
        base.update(iters=2, warmup=1, hidden=[16], d_max=8, queries=3, inner_steps=2)
        meta_batches = [2]
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for method in args.methods:
        for mb in meta_batches:
            res = {
                impl: _run_worker({**base, "method": method, "impl": impl, "meta_batch": mb})
                for impl in _IMPLS
            }
            ref, ours = res["reference"], res["autometa"]
            speedup = ref["s_per_iter"] / ours["s_per_iter"]
            cpu_speedup = ref["cpu_s_per_iter"] / ours["cpu_s_per_iter"]
            for impl in _IMPLS:
                r = res[impl]
                rows.append(
                    {
                        "method": method,
                        "meta_batch": mb,
                        "impl": impl,
                        "tasks_per_s": mb / r["s_per_iter"],
                        "s_per_iter": r["s_per_iter"],
                        "peak_mem_mb": r["peak_mem_mb"],
                        "speedup": speedup if impl == "autometa" else 1.0,
                        "cpu_s_per_iter": r["cpu_s_per_iter"],
                        "cpu_speedup": cpu_speedup if impl == "autometa" else 1.0,
                        "mem_ratio": ours["peak_mem_mb"] / max(ref["peak_mem_mb"], 1e-9)
                        if impl == "autometa"
                        else 1.0,
                        "first_loss": r["first_loss"],
                    }
                )
            summary[f"speedup {method} @{mb}"] = speedup
            summary[f"cpu_speedup {method} @{mb}"] = cpu_speedup
    device = res["autometa"]["device"]
    notes = [
        "speedup = reference s/iter / autometa s/iter (one outer iteration: adapt, query loss, backward, Adam step).",
        "cpu_speedup = the same ratio of process CPU time per iteration (wall time also counts waiting for a "
        "shared core; CPU time does not).",
        "peak_mem_mb: growth of ru_maxrss during the iterations, one fresh process per row (CPU); "
        "torch.cuda.max_memory_allocated on CUDA.",
        "first_loss must agree between the two implementations (same learner, same episodes).",
    ]
    return BenchResult(
        name="speed",
        rows=rows,
        columns=[
            "method",
            "meta_batch",
            "impl",
            "tasks_per_s",
            "s_per_iter",
            "peak_mem_mb",
            "speedup",
            "cpu_s_per_iter",
            "cpu_speedup",
            "mem_ratio",
            "first_loss",
        ],
        key_columns=["method", "meta_batch", "impl"],
        params={
            **base,
            "meta_batch": meta_batches,
            "methods": list(args.methods),
            "device_used": device,
        },
        summary=summary,
        notes=notes,
    )
