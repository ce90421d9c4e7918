"""``autometa evaluate``: score a meta-learner checkpoint on held-out tasks.

Draws ``--tasks`` tasks from a pool (a fixed stream of ``--seed``), adapts the learner to
each support set and reports the mean query accuracy and cross-entropy with 95% confidence
intervals (normal approximation over tasks, as in the few-shot literature).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

HELP = "Evaluate a meta-learner checkpoint on held-out episodes."
DESCRIPTION = """Evaluate a meta-learner checkpoint on tasks drawn from a pool.

Prints the mean query accuracy and loss over --tasks tasks with 95% confidence intervals
(mean +- 1.96 standard errors over tasks)."""
EPILOG = """examples:
  autometa evaluate --checkpoint runs/meta-train/maml-synthetic/best.pt --pool synthetic --tasks 1000
  autometa evaluate --checkpoint runs:/<run_id>/checkpoints/best.pt --pool episodic:letter:5way1shot --split test --json
  autometa evaluate --checkpoint models:/autometa/3 --pool keel-dev --split val --json results.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``autometa evaluate``."""
    parser.add_argument(
        "--checkpoint",
        required=True,
        help="checkpoint file or folder (best.pt), or an MLflow URI (models:/name/version, runs:/id/path)",
    )
    parser.add_argument(
        "--pool", default="synthetic", help="pool spec of the evaluation tasks (default synthetic)"
    )
    parser.add_argument(
        "--split", default="val", help="pool split: val (default), test (episodic), train, all"
    )
    parser.add_argument(
        "--pool-seed",
        type=int,
        default=0,
        help="seed of the pool's train/val partition (default 0)",
    )
    parser.add_argument(
        "--tasks", type=int, default=1000, help="number of evaluation tasks (default 1000)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=32, help="tasks adapted at once (default 32)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the task stream (default 0)")
    parser.add_argument(
        "--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N"
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="print the results as JSON (to PATH when given)",
    )


def mean_ci(values: Any) -> tuple[float, float]:
    """Mean and 95% confidence half-width (1.96 standard errors) of per-task values."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("mean_ci needs at least one value.")
    half = 1.96 * v.std(ddof=1) / math.sqrt(v.size) if v.size > 1 else float("nan")
    return float(v.mean()), float(half)


def per_task_metrics(learner: Any, batch: Any) -> tuple[Any, Any]:
    """Per-task query cross-entropy and accuracy ``([T], [T])`` after adaptation."""
    import torch

    from autometa.functional._losses import masked_accuracy, masked_cross_entropy

    was_training = learner.training
    learner.eval()
    try:
        with torch.enable_grad():
            fast = learner.adapt(batch)
        with torch.no_grad():
            logits = learner.predict(fast, batch.x_query, batch).float()
            loss = torch.vmap(masked_cross_entropy)(
                logits, batch.y_query, batch.query_mask, batch.class_mask
            )
            acc = torch.vmap(masked_accuracy)(
                logits, batch.y_query, batch.query_mask, batch.class_mask
            )
    finally:
        learner.train(was_training)
    return loss.cpu().numpy(), acc.cpu().numpy()


def evaluate_learner(
    learner: Any,
    pool: Any,
    *,
    n_tasks: int = 1000,
    batch_size: int = 32,
    seed: int = 0,
    device: Any = "cpu",
) -> dict[str, Any]:
    """Mean query accuracy/loss of ``learner`` over ``n_tasks`` tasks of ``pool`` with 95% CIs.

    Tasks come from ``numpy.random.default_rng(seed)``, so two learners evaluated with the
    same seed see the same tasks.
    """
    import numpy as np

    from autometa._utils import resolve_device
    from autometa.meta._checkpoint import learner_dims
    from autometa.tasks import collate_tasks

    if n_tasks < 1 or batch_size < 1:
        raise ValueError(f"--tasks and --batch-size must be positive; got {n_tasks}, {batch_size}.")
    dev = resolve_device(device)
    learner = learner.to(dev)
    _, c_max = learner_dims(learner)
    rng = np.random.default_rng(seed)
    losses, accs = [], []
    t0 = time.perf_counter()
    done = 0
    while done < n_tasks:
        size = min(batch_size, n_tasks - done)
        batch = collate_tasks([pool.sample(rng) for _ in range(size)], c_max=c_max).to(dev)
        loss, acc = per_task_metrics(learner, batch)
        losses.append(loss)
        accs.append(acc)
        done += size
    loss_all, acc_all = np.concatenate(losses), np.concatenate(accs)
    acc_mean, acc_ci = mean_ci(acc_all)
    loss_mean, loss_ci = mean_ci(loss_all)
    return {
        "tasks": int(n_tasks),
        "accuracy": acc_mean,
        "accuracy_ci95": acc_ci,
        "loss": loss_mean,
        "loss_ci95": loss_ci,
        "seconds": time.perf_counter() - t0,
    }


def run(args: argparse.Namespace) -> int:
    """Run ``autometa evaluate``; return the exit code (``autometa.cli`` reports errors)."""
    from autometa.meta import load_meta_learner
    from autometa.meta._checkpoint import learner_dims
    from autometa.tasks import make_pool

    if args.tasks < 1:
        raise ValueError(f"--tasks must be a positive integer; got {args.tasks}.")
    learner = load_meta_learner(args.checkpoint)
    d_max, c_max = learner_dims(learner)
    try:
        pool = make_pool(
            args.pool, d_max=d_max or 32, c_max=c_max or 10, split=args.split, seed=args.pool_seed
        )
    except (ValueError, KeyError, FileNotFoundError) as exc:
        raise ValueError(f"Bad pool spec {args.pool!r}: {exc}") from exc
    result = evaluate_learner(
        learner,
        pool,
        n_tasks=args.tasks,
        batch_size=args.batch_size,
        seed=args.seed,
        device=args.device,
    )
    result = {
        "checkpoint": str(args.checkpoint),
        "algo": learner.algo,
        "pool": args.pool,
        "split": args.split,
        "seed": args.seed,
        **result,
    }
    if args.json is not None:
        text = json.dumps(result, indent=2)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text + "\n")
    print(
        f"{result['algo']} on {args.pool} ({args.split}), {args.tasks} tasks:\n"
        f"  query accuracy  {result['accuracy']:.4f} +- {result['accuracy_ci95']:.4f} (95% CI)\n"
        f"  query loss      {result['loss']:.4f} +- {result['loss_ci95']:.4f} (95% CI)"
    )
    return 0
