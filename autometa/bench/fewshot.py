"""``autometa bench fewshot``: N-way K-shot accuracy on class-disjoint splits, every learner.

Protocol (BENCHMARKS.md, "Few-shot"): episodes come from
:class:`~autometa.tasks.EpisodicPool` on a many-class *dev* data set (default KEEL
``letter``, 26 classes, split 60/20/20 by class so meta-train, meta-validation and
meta-test classes are disjoint). Every registered learner (or the ``--algos`` given) is
built on the same base net (a masked MLP; ``conv4`` for the 8x8 image sets), meta-trained
with :class:`~autometa.meta.MetaTrainer` for ``--steps`` outer steps, then scored on the
same ``--test-episodes`` meta-test episodes (default 1,000). The table reports the mean
query accuracy with a 95% normal confidence half-width (``1.96 * std / sqrt(episodes)``).

The published anchors (Omniglot, miniImageNet) do not apply to these data sets.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dataset",
        default="letter",
        help="many-class dev data set (letter, penbased, digits, ...)",
    )
    parser.add_argument("--ways", type=int, default=5)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--queries", type=int, default=15, help="query rows per class")
    parser.add_argument(
        "--algos", nargs="+", default=None, help="learners to run (default: every registered one)"
    )
    parser.add_argument(
        "--steps", type=int, default=500, help="meta-training steps per learner and K"
    )
    parser.add_argument("--meta-batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3, help="outer learning rate")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64], help="MLP hidden widths")
    parser.add_argument("--test-episodes", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )


def _learner_kwargs(algo: str) -> dict[str, Any]:
    """Per-algorithm settings used by the bench (documented in docs/engine.md)."""
    if algo == "reptile":
        return {"inner_steps": 5, "inner_lr": 0.1}
    if algo == "meta-lstm":
        return {"inner_steps": 5, "init_lr": 0.1}
    if algo in ("maml", "fomaml", "anil"):
        return {"inner_steps": 5, "inner_lr": 0.4}
    if algo == "metasgd":
        return {"inner_steps": 1, "inner_lr": 0.4}
    return {}


def evaluate_episodes(
    learner: Any, pool: Any, n_episodes: int, seed: int, chunk: int = 100, device: Any = "cpu"
) -> Any:
    """Per-episode query accuracy of ``learner`` on ``n_episodes`` episodes drawn from ``seed``."""
    import torch

    from autometa.functional import masked_accuracy
    from autometa.tasks import collate_tasks

    rng = np.random.default_rng(seed)
    tasks = [pool.sample(rng) for _ in range(n_episodes)]
    accs = []
    learner.eval()
    for start in range(0, n_episodes, chunk):
        batch = collate_tasks(tasks[start : start + chunk], c_max=pool.c_max).to(device)
        with torch.enable_grad():  # learners that adapt with torch.autograd need it
            fast = learner.adapt(batch)
        with torch.no_grad():
            logits = learner.predict(fast, batch.x_query, batch).detach()
            accs.append(
                torch.vmap(masked_accuracy)(
                    logits, batch.y_query, batch.query_mask, batch.class_mask
                )
            )
        del fast
    learner.train()
    return torch.cat(accs).cpu().numpy()


def compute(args: argparse.Namespace) -> BenchResult:
    import torch

    from autometa._utils import resolve_device
    from autometa.meta import (
        LEARNERS,
        MetaTrainer,
        OptimizerConfig,
        ValidationConfig,
        build_learner,
    )
    from autometa.tasks import EpisodicPool

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.steps, args.test_episodes, args.meta_batch, args.shots = 2, 20, 4, [1]
    device = resolve_device(args.device)
    algos = args.algos or sorted(LEARNERS)
    unknown = sorted(set(algos) - set(LEARNERS))
    if unknown:
        raise ValueError(f"Unknown learners {unknown}; registered: {sorted(LEARNERS)}.")
    rows = []
    for k in args.shots:
        pools = {
            split: EpisodicPool(
                args.dataset,
                n_way=args.ways,
                k_shot=k,
                n_query=args.queries,
                split=split,
                split_seed=args.seed,
            )
            for split in ("train", "val", "test")
        }
        train = pools["train"]
        if train.image_shape is not None:
            net = {
                "kind": "conv4",
                "image_shape": list(train.image_shape),
                "c_max": args.ways,
                "channels": 32,
            }
        else:
            net = {
                "kind": "mlp",
                "d_max": train.d_max,
                "c_max": args.ways,
                "hidden": list(args.hidden),
            }
        for algo in algos:
            torch.manual_seed(args.seed)
            learner = build_learner(algo, net=net, **_learner_kwargs(algo))
            t0 = time.perf_counter()
            trainer = MetaTrainer(
                learner,
                train,
                meta_batch_size=args.meta_batch,
                device=device,
                seed=args.seed,
                optimizer=OptimizerConfig(lr=args.lr),
                validation=ValidationConfig(pools["val"], every=max(1, args.steps // 5), tasks=32),
                tracking=False,
                progress=False,
            )
            trainer.fit(args.steps)
            train_s = time.perf_counter() - t0
            accs = evaluate_episodes(
                learner, pools["test"], args.test_episodes, seed=10_000 + args.seed, device=device
            )
            print(
                f"[fewshot] {args.ways}-way {k}-shot {algo}: accuracy {accs.mean():.4f} "
                f"({train_s:.0f} s meta-training)",
                file=sys.stderr,
                flush=True,
            )
            rows.append(
                {
                    "shots": k,
                    "algo": algo,
                    "accuracy": float(accs.mean()),
                    "ci95": float(1.96 * accs.std(ddof=1) / math.sqrt(len(accs)))
                    if len(accs) > 1
                    else float("nan"),
                    "episodes": int(len(accs)),
                    "train_s": train_s,
                }
            )
    return BenchResult(
        name="fewshot",
        rows=rows,
        key_columns=["shots", "algo"],
        params={
            "dataset": args.dataset,
            "ways": args.ways,
            "shots": list(args.shots),
            "queries": args.queries,
            "steps": args.steps,
            "meta_batch": args.meta_batch,
            "lr": args.lr,
            "hidden": list(args.hidden),
            "test_episodes": args.test_episodes,
            "seed": args.seed,
            "device": str(device),
            "algos": algos,
        },
        summary={f"acc {r['algo']} {args.ways}w{r['shots']}s": r["accuracy"] for r in rows},
        notes=[
            f"{args.ways}-way accuracy on meta-test classes disjoint from meta-train/val classes; chance = {1 / args.ways:.3f}.",
            "ci95 = 1.96 * std / sqrt(episodes).",
        ],
    )
