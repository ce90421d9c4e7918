"""Meta-train on a task pool of your own, then evaluate and reload the checkpoint.

A task pool is any object with ``d_max``, ``c_max``, ``name`` and ``sample(rng) -> Task``
that uses only ``rng`` for randomness (that is what makes runs reproducible and resumable).
Here the pool draws small classification tasks from scikit-learn's bundled ``digits`` and
``wine`` tables (dev data sets): a random subset of classes, features and rows per task,
encoded with autometa's one :func:`~autometa.tasks.encode_task` so that the meta-trained
learner sees exactly what ``AutoMetaClassifier.fit`` would give it.

Run (about a minute of CPU time for 100 steps)::

    python examples/meta_train_custom_pool.py --steps 200
    python examples/meta_train_custom_pool.py --steps 400 --resume   # continue the same run

Everything is logged to MLflow (``./mlruns`` unless ``MLFLOW_TRACKING_URI`` is set; add
``--no-mlflow`` to skip) and checkpointed under ``runs/custom-pool``.
"""

from __future__ import annotations

import argparse

import numpy as np
from autometa.meta._cli_evaluate import evaluate_learner
from sklearn.datasets import load_digits, load_wine

from autometa.meta import (
    MAML,
    CheckpointConfig,
    MetaTrainer,
    OptimizerConfig,
    TrackingConfig,
    ValidationConfig,
    load_meta_learner,
)
from autometa.tasks import Task, encode_task


class SubsetPool:
    """Tasks = random class/feature/row subsets of a few tables (train or val tables)."""

    def __init__(self, tables: dict[str, tuple[np.ndarray, np.ndarray]], d_max: int = 16, c_max: int = 5,
                 shots: int = 5, queries: int = 15, name: str = "subsets") -> None:  # fmt: skip
        self.tables, self.d_max, self.c_max = tables, d_max, c_max
        self.shots, self.queries, self.name = shots, queries, name
        self._names = sorted(tables)

    def sample(self, rng: np.random.Generator) -> Task:
        table = self._names[int(rng.integers(len(self._names)))]
        X, y = self.tables[table]
        classes = np.unique(y)
        k = int(rng.integers(2, min(self.c_max, len(classes)) + 1))
        chosen = rng.choice(classes, size=k, replace=False)
        feats = rng.choice(X.shape[1], size=min(self.d_max, X.shape[1]), replace=False)
        support, query = [], []
        for c in chosen:
            rows = rng.permutation(np.flatnonzero(y == c))[: self.shots + self.queries]
            support.extend(rows[: self.shots])
            query.extend(rows[self.shots :])
        relabel = {c: i for i, c in enumerate(chosen)}
        ys = np.array([relabel[c] for c in y[support]])
        yq = np.array([relabel[c] for c in y[query]])
        return encode_task(
            X[np.ix_(support, feats)], ys, X[np.ix_(query, feats)], yq,
            d_max=self.d_max, c_max=self.c_max, class_permutation=rng.permutation(k),
            name=f"{self.name}/{table}", random_state=None,
        )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--checkpoint-dir", default="runs/custom-pool")
    args = parser.parse_args()

    digits, wine = load_digits(), load_wine()
    # meta-train on digits, meta-validate on a different table (whole data sets, never rows)
    train_pool = SubsetPool({"digits": (digits.data, digits.target)}, name="digits")
    val_pool = SubsetPool({"wine": (wine.data, wine.target)}, name="wine")

    learner = MAML(
        net={"kind": "mlp", "d_max": 16, "c_max": 5, "hidden": [64, 64]},
        inner_steps=5,
        inner_lr=0.4,
    )
    trainer = MetaTrainer(
        learner, train_pool, meta_batch_size=8, seed=0, optimizer=OptimizerConfig(lr=1e-3),
        checkpoints=CheckpointConfig(args.checkpoint_dir, every=50),
        validation=ValidationConfig(val_pool, every=50, tasks=64, patience=5),
        tracking=TrackingConfig(not args.no_mlflow, run_name="maml-custom-pool"),
    )  # fmt: skip
    result = trainer.fit(args.steps, resume=args.resume)
    if result.best_checkpoint is None:
        raise SystemExit(
            f"No meta-validation yet after {result.steps} steps; run at least 50 steps."
        )
    print(
        f"steps {result.steps}, best meta-val loss {result.best_val_loss:.4f} at step {result.best_step}"
    )
    print(
        f"checkpoints: {result.best_checkpoint}, {result.last_checkpoint}; MLflow run {result.run_id}"
    )

    best = load_meta_learner(result.best_checkpoint)
    scratch = MAML(**learner.get_config())  # same net and inner loop, random initialization
    for label, model in (("meta-trained", best), ("random init", scratch)):
        r = evaluate_learner(model, val_pool, n_tasks=200, seed=1)
        print(f"{label:>13}: wine tasks accuracy {r['accuracy']:.3f} +- {r['accuracy_ci95']:.3f}")


if __name__ == "__main__":
    main()
