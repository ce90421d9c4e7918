"""``autometa bench train-cores``: how a meta-training step uses two cores.

Trains a campaign preset's learner on its prior (default ``in-context-v2``, CPU) for
``--steps`` outer steps after ``--warmup`` untimed ones in the same run (so the task worker's
start, a few CPU-seconds of imports once per run, is not in the per-step numbers), ``--repeats`` times per setting of
torch threads and task workers (``--settings``, e.g. ``1x0,2x0,1x1`` = 1 thread/0 workers, 2 threads/0 workers,
1 thread/1 worker), each from the same fresh weights and seed. For every setting it reports (median over repeats)
CPU seconds per step (this process's ``time.process_time()``, all its threads, plus the task
worker's own CPU time, see :attr:`MetaTrainer.worker_cpu_seconds`) and wall seconds per step.
The settings run one after another on whatever else the machine is doing, so wall times
depend on its load (recorded in ``params``).

The summary also says whether the settings with the same thread count ended on the same
weights (the worker draws the same task stream as the training process).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from typing import Any

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--preset", default="in-context-v2", help="campaign preset (its learner, prior, batch)"
    )
    parser.add_argument("--steps", type=int, default=20, help="timed outer steps per setting")
    parser.add_argument("--warmup", type=int, default=2, help="untimed outer steps first")
    parser.add_argument(
        "--settings", default="1x0,2x0,1x1", help="comma-separated THREADSxWORKERS settings to time"
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="rounds over the settings (interleaved, so that a change of the machine's load hits "
        "every setting alike); the median per setting is reported",
    )
    parser.add_argument("--seed", type=int, default=0)


def _settings(text: str) -> list[tuple[int, int]]:
    out = []
    for item in str(text).split(","):
        threads, sep, workers = item.strip().partition("x")
        if not sep or not threads.isdigit() or not workers.isdigit() or int(threads) < 1:
            raise ValueError(
                f"--settings items are THREADSxWORKERS such as 2x0 or 1x1; got {item!r}."
            )
        out.append((int(threads), int(workers)))
    return out


def _digest(learner: Any) -> str:
    h = hashlib.sha256()
    for name, value in sorted(learner.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def _time_setting(
    preset: str, threads: int, workers: int, steps: int, warmup: int, seed: int
) -> dict[str, Any]:
    import torch

    from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign
    from autometa.meta._trainer_config import CheckpointConfig

    config = CAMPAIGN_PRESETS[preset]()
    config.update(device="cpu", tracking=False, seed=seed, task_workers=workers)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with tempfile.TemporaryDirectory() as folder:
            trainer = InContextCampaign(folder, **config).build_trainer()
            # one fit, timed from the end of the warm-up (the worker has started by then) to the end;
            # the hook runs every `warmup` steps and nothing is written
            trainer.checkpoints = CheckpointConfig(None, every=warmup)
            start: list[float] = []

            def mark(t: Any) -> None:
                if not start:
                    start.extend((time.process_time(), t.worker_cpu_seconds, time.perf_counter()))

            trainer.fit(warmup + steps, on_checkpoint=mark)
            wall = time.perf_counter() - start[2]
            worker = trainer.worker_cpu_seconds - start[1]
            cpu = time.process_time() - start[0] + worker
    finally:
        torch.set_num_threads(before)
    return {
        "setting": f"{threads} thread{'s' if threads > 1 else ''}, {workers} worker{'s' if workers != 1 else ''}",
        "threads": threads,
        "task_workers": workers,
        "cpu_s_per_step": cpu / steps,
        "worker_cpu_s_per_step": worker / steps,
        "wall_s_per_step": wall / steps,
        "weights": _digest(trainer.learner),
    }


def compute(args: argparse.Namespace) -> BenchResult:
    settings = _settings(args.settings)
    steps, warmup = (3, 1) if args.quick else (int(args.steps), int(args.warmup))
    load_before = os.getloadavg()
    repeats = max(1, int(args.repeats))
    rounds = [
        [_time_setting(args.preset, t, w, steps, warmup, int(args.seed)) for t, w in settings]
        for _ in range(repeats)
    ]
    rows = []
    for i in range(len(settings)):
        runs = [r[i] for r in rounds]
        row = dict(runs[0])
        for key in ("cpu_s_per_step", "worker_cpu_s_per_step", "wall_s_per_step"):
            row[key] = statistics.median(r[key] for r in runs)
            row[f"{key}_each"] = [r[key] for r in runs]
        row["weights"] = runs[0]["weights"] if len({r["weights"] for r in runs}) == 1 else "differ"
        rows.append(row)
    summary: dict[str, Any] = {}
    for threads in sorted({r["threads"] for r in rows}):
        digests = {r["weights"] for r in rows if r["threads"] == threads}
        summary[f"same_weights_at_{threads}_threads"] = len(digests) == 1
    base = rows[0]
    for r in rows[1:]:
        summary[f"wall_speedup[{r['setting']}]"] = base["wall_s_per_step"] / r["wall_s_per_step"]
        summary[f"cpu_ratio[{r['setting']}]"] = r["cpu_s_per_step"] / base["cpu_s_per_step"]
    return BenchResult(
        name="train-cores",
        rows=rows,
        columns=[
            "setting",
            "cpu_s_per_step",
            "worker_cpu_s_per_step",
            "wall_s_per_step",
            "weights",
        ],
        key_columns=["setting"],
        params={
            "preset": args.preset,
            "steps": steps,
            "warmup": warmup,
            "repeats": repeats,
            "seed": int(args.seed),
            "settings": [f"{t}x{w}" for t, w in settings],
            "cpus": os.cpu_count(),
            "load_average_1min_before": round(load_before[0], 2),
            "load_average_1min_after": round(os.getloadavg()[0], 2),
            "nice": os.nice(0),
        },
        summary=summary,
        notes=[
            "CPU seconds per step: this process (all threads) plus the task worker process; "
            "wall seconds per step on a machine shared with other jobs (see the load averages)"
        ],
    )
