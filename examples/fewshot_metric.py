"""Few-shot table for the hypernetwork and metric learners (5-way 1-shot and 5-shot).

Every learner is meta-trained with the same :class:`~autometa.meta.MetaTrainer` on the
meta-train classes of a class-disjoint split and evaluated on the *same* 1,000 episodes of
the held-out meta-test classes (mean accuracy with a 95% confidence interval,
``1.96 * std / sqrt(episodes)``).

* ``letter``: KEEL letter (26 classes, 16 features), ``EpisodicPool("letter")`` with the
  default class split (16 / 5 / 5 classes), a masked MLP ``[64, 64]``.
* ``digits``: scikit-learn digits (10 classes, 8x8 images), ``EpisodicPool("digits")`` with
  5 meta-train and 5 meta-test classes, the conv-4 backbone cut to its first two blocks
  (32 channels, a 2x2x32 embedding): with all four blocks the 2x2 poolings shrink an 8x8
  image to a single pixel after the third block (pass ``--net`` to try it).

Usage (CPU, a few minutes per learner; ``--json`` writes the invocation's results with the
benchmarks' JSON writer, ``--out`` appends one JSON line per result)::

    python examples/fewshot_metric.py --dataset letter --steps 1000 --json fewshot_letter.json
    python examples/fewshot_metric.py --dataset digits --steps 250 --json fewshot_digits.json
    python examples/fewshot_metric.py --dataset letter --algos raw-centroid --out fewshot_letter.jsonl
    python examples/fewshot_metric.py --table fewshot_letter.json fewshot_digits.json

``--table`` prints the markdown table (accuracy in %, ± the 95% half-width) of ``--json`` files
or ``--out`` JSON-lines files; every number it prints is a field (``accuracy_pct``,
``ci95_pct``) of those files.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from autometa.bench._common import BenchResult, report
from autometa.functional import masked_accuracy
from autometa.meta import MetaTrainer, OptimizerConfig, build_learner
from autometa.tasks import EpisodicPool, collate_tasks

ALGOS = ["hypernet", "hypernet-maml", "protonet", "matching", "relation", "siamese"]
NAMES = {
    "hypernet": "HyperNet",
    "hypernet-maml": "HyperNet+MAML",
    "protonet": "ProtoNet",
    "matching": "MatchingNet",
    "relation": "RelationNet",
    "siamese": "Siamese",
    "maml": "MAML (reference)",
    "raw-centroid": "nearest centroid on raw inputs (no meta-learning)",
}
DATASETS = {
    "letter": ({}, {"kind": "mlp", "d_max": 16, "c_max": 5, "hidden": [64, 64]}),
    "digits": (
        {"split_fractions": (0.5, 0.0, 0.5)},
        {"kind": "conv4", "image_shape": [1, 8, 8], "c_max": 5, "n_blocks": 2},
    ),
}


def evaluate_episodes(learner, pool, n_episodes: int, seed: int, chunk: int = 25) -> np.ndarray:
    """Per-episode query accuracy on ``n_episodes`` episodes drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    accs = []
    learner.eval()
    for start in range(0, n_episodes, chunk):
        batch = collate_tasks(
            [pool.sample(rng) for _ in range(min(chunk, n_episodes - start))], c_max=pool.c_max
        )
        with torch.enable_grad():  # learners with inner gradient steps need autograd here
            fast = learner.adapt(batch)
        with torch.no_grad():
            logits = learner.predict(fast, batch.x_query, batch)
            acc = torch.vmap(masked_accuracy)(
                logits, batch.y_query, batch.query_mask, batch.class_mask
            )
        accs.append(acc.detach().numpy())
    return np.concatenate(accs)


def raw_centroid_accuracies(pool, n_episodes: int, seed: int) -> np.ndarray:
    """Baseline: nearest class mean in the raw (encoded) input space, same episodes."""
    rng = np.random.default_rng(seed)
    accs = []
    for _ in range(n_episodes):
        t = pool.sample(rng)
        centroids = torch.stack([t.x_support[t.y_support == c].mean(0) for c in range(t.n_classes)])
        accs.append(
            float((torch.cdist(t.x_query, centroids).argmin(1) == t.y_query).float().mean())
        )
    return np.asarray(accs)


def _scores(accs: np.ndarray) -> dict:
    """Mean accuracy and 95% half-width, as fractions and as the percentages the table prints."""
    accuracy = float(accs.mean())
    ci95 = float(1.96 * accs.std(ddof=1) / math.sqrt(len(accs)))
    return {
        "accuracy": accuracy,
        "ci95": ci95,
        "accuracy_pct": 100 * accuracy,
        "ci95_pct": 100 * ci95,
        "episodes": len(accs),
    }


def _read_rows(path: str) -> list[dict]:
    """Rows of a ``--json`` results file or of an ``--out`` JSON-lines file."""
    text = Path(path).read_text()
    if path.endswith(".json"):
        return json.loads(text)["rows"]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_one(dataset: str, algo: str, k_shot: int, args: argparse.Namespace) -> dict:
    pool_kw, net = DATASETS[dataset]
    if args.net:
        net = json.loads(args.net)
    train = EpisodicPool(dataset, n_way=5, k_shot=k_shot, n_query=15, split="train", **pool_kw)
    test = EpisodicPool(dataset, n_way=5, k_shot=k_shot, n_query=15, split="test", **pool_kw)
    if algo == "raw-centroid":
        accs = raw_centroid_accuracies(test, args.episodes, seed=args.eval_seed)
        return {
            "dataset": dataset,
            "algo": algo,
            "k_shot": k_shot,
            **_scores(accs),
        }
    torch.manual_seed(args.seed)
    extra = {"episode_batch_norm": True} if args.episode_batch_norm and algo in ALGOS else {}
    learner = build_learner(algo, net=net, **extra)
    trainer = MetaTrainer(
        learner,
        train,
        meta_batch_size=args.meta_batch,
        device="cpu",
        seed=args.seed,
        optimizer=OptimizerConfig(lr=args.lr),
        tracking=args.track,
        progress=False,
    )
    t0 = time.perf_counter()
    trainer.fit(steps=args.steps)
    train_s = time.perf_counter() - t0
    accs = evaluate_episodes(learner, test, args.episodes, seed=args.eval_seed)
    return {
        "dataset": dataset,
        "algo": algo,
        "k_shot": k_shot,
        **_scores(accs),
        "steps": args.steps,
        "meta_batch": args.meta_batch,
        "train_seconds": round(train_s, 1),
        "episode_batch_norm": args.episode_batch_norm,
        "net": net,
        "config": learner.get_config(),
    }


def markdown_table(paths: list[str]) -> str:
    """The markdown table (accuracy in %, ± the 95% half-width) of ``--json`` / ``--out`` files."""
    rows = [row for p in paths for row in _read_rows(p)]
    cols = sorted(
        {(r["dataset"], r["k_shot"]) for r in rows}, key=lambda c: (c[0] != "letter", c[0], c[1])
    )
    cell = {(r["algo"], r["dataset"], r["k_shot"]): r for r in rows}
    lines = [
        "| learner | " + " | ".join(f"{d} 5-way {k}-shot" for d, k in cols) + " |",
        "|" + "---|" * (len(cols) + 1),
    ]
    for algo in [*ALGOS, "maml", "raw-centroid"]:
        if not any((algo, d, k) in cell for d, k in cols):
            continue
        vals = []
        for d, k in cols:
            r = cell.get((algo, d, k))
            vals.append(f"{r['accuracy_pct']:.1f} ± {r['ci95_pct']:.1f}" if r else "n/a")
        lines.append(f"| {NAMES.get(algo, algo)} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="letter")
    parser.add_argument("--algos", nargs="+", default=ALGOS)
    parser.add_argument("--shots", nargs="+", type=int, default=[1, 5])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--meta-batch", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-seed", type=int, default=12345)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--track", action="store_true", help="log the meta-training runs to MLflow")
    parser.add_argument(
        "--net", default=None, help="base-net config as JSON (default: per data set, see above)"
    )
    parser.add_argument(
        "--episode-batch-norm",
        action="store_true",
        help="conv-4: embed support and query together (ablation)",
    )
    parser.add_argument("--out", default=None, help="append one JSON line per (learner, shot)")
    parser.add_argument(
        "--json",
        metavar="PATH",
        default=None,
        help="write this invocation's results (and its command) as JSON to PATH",
    )
    parser.add_argument(
        "--table", nargs="+", default=None, help="print the markdown table of JSON-lines files"
    )
    args = parser.parse_args()
    if args.table:
        print(markdown_table(args.table))
        return
    torch.set_num_threads(args.threads)
    rows = []
    for k in args.shots:
        for algo in args.algos:
            row = run_one(args.dataset, algo, k, args)
            rows.append(row)
            print(
                f"{args.dataset} 5-way {k}-shot {algo:14s} {100 * row['accuracy']:.1f} ± {100 * row['ci95']:.1f} "
                f"({row.get('train_seconds', 0)} s)",
                flush=True,
            )
            if args.out:
                with open(args.out, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    if args.json:
        params = {k: v for k, v in vars(args).items() if k not in ("table", "out", "json")}
        params["command"] = shlex.join(["python", "examples/fewshot_metric.py", *sys.argv[1:]])
        result = BenchResult(
            name="fewshot_metric",
            rows=rows,
            columns=["dataset", "algo", "k_shot", "accuracy_pct", "ci95_pct", "episodes"],
            key_columns=["dataset", "algo", "k_shot"],
            params=params,
        )
        report(result, argparse.Namespace(json=args.json, no_mlflow=not args.track))


if __name__ == "__main__":
    main()
