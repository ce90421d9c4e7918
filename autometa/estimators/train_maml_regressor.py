"""Meta-train AutoMetaRegressor's MAML member and write it with its model card.

:class:`~autometa.meta.MAMLRegression` (a 2x64 MLP on 32 encoded columns, 5 inner SGD steps of
size 0.1, second order) is meta-trained by :class:`~autometa.meta.MetaTrainer` (Adam, lr 1e-3,
gradient clipping 1.0, 8 tasks per step, seed 0) on the regressor's task prior
(:class:`~autometa.tasks.InContextRegressionPrior`: synthetic regression functions and the
``REGRESSOR_TRAIN`` dev tables, 16-256 support rows). The card records the data, the compute,
the command and the held-out R² of the member, trained and untrained, on the
``REGRESSOR_VALIDATION`` tables. Command::

    python -m autometa.estimators.train_maml_regressor --steps 3000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._provenance import learner_facts, recipe_command, write_card
from autometa.estimators._context import FitContext
from autometa.estimators._maml_regression_member import (
    MAML_REGRESSOR_CHECKPOINT,
    MAMLRegressionMember,
)
from autometa.meta import (
    CheckpointConfig,
    MAMLRegression,
    MetaTrainer,
    OptimizerConfig,
    save_meta_learner,
)
from autometa.tasks import InContextRegressionPrior, roles
from autometa.tasks._cells import held_out_cells

NET = {"kind": "mlp", "d_max": 32, "c_max": 1, "hidden": [64, 64]}
CARD = MAML_REGRESSOR_CHECKPOINT.with_name("regressor_maml_model_card.json")


def maml_member_r2(
    learner: Any,
    sizes: tuple[int, ...] = (32, 128),
    seeds: int = 5,
    tables: Sequence[str] | None = None,
) -> dict[str, float]:
    """Mean R² of the MAML member alone on the validation tables (random samples, other rows as test rows).

    ``tables`` defaults to :data:`autometa.tasks.roles.REGRESSOR_VALIDATION`.
    """
    scores: dict[int, list[float]] = {n: [] for n in sizes}
    tables = roles.REGRESSOR_VALIDATION if tables is None else tuple(tables)
    cells = held_out_cells(tables, sizes, range(seeds), n_test=1000, sampler="random", salt=31)
    for _, n, seed, X_train, y_train, X_test, y_test in cells:
        mu, sd = y_train.mean(), y_train.std() or 1.0
        member = MAMLRegressionMember(learner).fit(FitContext(X_train), (y_train - mu) / sd, seed)
        pred = member.predict(FitContext(X_test)) * sd + mu
        scores[n].append(1.0 - np.mean((y_test - pred) ** 2) / np.var(y_test))
    return {f"r2@{n}": round(float(np.mean(v)), 4) for n, v in scores.items() if v}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autometa.estimators.train_maml_regressor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--steps", type=int, default=3000, help="outer steps")
    p.add_argument("--checkpoint-dir", type=Path, default=Path("runs/maml-regression"))
    p.add_argument("--out", type=Path, default=MAML_REGRESSOR_CHECKPOINT)
    args = p.parse_args(argv)
    torch.manual_seed(0)
    learner = MAMLRegression(net=NET)
    torch.manual_seed(0)
    untrained = MAMLRegression(net=NET).eval()
    prior = InContextRegressionPrior(d_max=NET["d_max"], n_support_range=(16, 256), n_query=64)
    t0, cpu0 = time.time(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        MetaTrainer(learner, prior, meta_batch_size=8, seed=0, device="cpu", tracking=False,
                    optimizer=OptimizerConfig(lr=1e-3, grad_clip=1.0),
                    checkpoints=CheckpointConfig(args.checkpoint_dir, every=500)).fit(args.steps)  # fmt: skip
    minutes, cpu_hours = (time.time() - t0) / 60, (time.process_time() - cpu0) / 3600
    learner.eval()
    path = save_meta_learner(
        learner, args.out, metadata={"source": "train_maml_regressor", "steps": args.steps}
    )
    facts = {
        **learner_facts(learner),
        "data": {
            "synthetic": {"generator": "autometa.tasks.RegressionPrior"},
            "dev_tables": list(prior.datasets),
            "n_support_range": list(prior.n_support_range),
            "held_out_for_the_scores": list(roles.REGRESSOR_VALIDATION),
            "reserved_data_sets_used": [],
        },
        "training": {
            "steps": args.steps,
            "meta_batch_size": 8,
            "optimizer": "Adam lr=0.001 grad_clip=1.0",
            "seed": 0,
            "cpu_hours": round(cpu_hours, 3),
            "wall_minutes": round(minutes, 1),
            "machine": f"{os.cpu_count()}-core CPU ({platform.machine()}), one torch thread; no GPU",
            "command": recipe_command("autometa.estimators.train_maml_regressor", argv),
        },  # fmt: skip
        "held_out_r2": {
            "meta_trained": maml_member_r2(learner),
            "untrained": maml_member_r2(untrained),
        },
    }
    card = write_card(CARD.with_name(Path(args.out).stem + "_model_card.json"), path, facts)
    print(json.dumps(card["held_out_r2"], indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
