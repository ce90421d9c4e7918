"""Does a MAML regression member add to AutoMetaRegressor? Train one, then measure it.

Issue 14 asks for MAML/Meta-LSTM regression from the engine "where it adds". This script

1. meta-trains :class:`~autometa.meta.MAMLRegression` (a 2x64 MLP, 5 inner SGD steps) on the
   regressor's task prior (:class:`~autometa.tasks.InContextRegressionPrior`: synthetic
   regression functions plus the ``REGRESSOR_TRAIN`` dev tables) with :class:`MetaTrainer`;
2. on the ``REGRESSOR_VALIDATION`` tables (never the evaluation tables), at 32 and 128 training
   rows and ``--seeds`` seeds, records every default member's predictions
   (``AutoMetaRegressor.member_predictions``) next to the MAML member's, adapted on the same
   standardized targets, and the same net untrained;
3. prints each member's R² and, leaving one table out, the held-out normalized squared error of
   the blend learned with and without the MAML member
   (:func:`autometa.estimators.train_regressor.fit_blend`).

    OMP_NUM_THREADS=1 python examples/maml_regression_member.py --steps 3000 --seeds 10
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

from autometa import AutoMetaRegressor
from autometa.estimators._context import FitContext
from autometa.estimators._maml_regression_member import MAMLRegressionMember
from autometa.estimators.train_regressor import _loss, fit_blend
from autometa.meta import CheckpointConfig, MAMLRegression, MetaTrainer, OptimizerConfig
from autometa.tasks import InContextRegressionPrior, roles
from autometa.tasks.datasets import load_dev_table

NET = {"kind": "mlp", "d_max": 32, "c_max": 1, "hidden": [64, 64]}


def maml_predict(learner: MAMLRegression, X_train, z_train, X_test) -> np.ndarray:
    """The member as AutoMetaRegressor's: encode the rows, adapt on the support rows, predict."""
    member = MAMLRegressionMember(learner).fit(FitContext(X_train), z_train, seed=0)
    return member.predict(FitContext(X_test))


def r2(z: np.ndarray, pred: np.ndarray) -> float:
    return float(1 - np.mean((z - pred) ** 2) / max(np.var(z), 1e-12))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--checkpoint-dir", default="runs/maml-regression")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.manual_seed(0)
    learner = MAMLRegression(net=NET)
    torch.manual_seed(0)
    untrained = MAMLRegression(net=NET)
    prior = InContextRegressionPrior(d_max=NET["d_max"], n_support_range=(16, 256), n_query=64)
    t0 = time.time()
    MetaTrainer(learner, prior, meta_batch_size=8, seed=0, device="cpu", tracking=False,
                optimizer=OptimizerConfig(lr=1e-3, grad_clip=1.0),
                checkpoints=CheckpointConfig(args.checkpoint_dir, every=500)).fit(args.steps)  # fmt: skip
    train_min = (time.time() - t0) / 60
    tasks = []
    for name in roles.REGRESSOR_VALIDATION:
        X, y = load_dev_table(name)
        for n in (32, 128):
            if len(y) < n + 50:
                continue
            for seed in range(args.seeds):
                rows = np.random.default_rng([seed, n, 7]).permutation(len(y))
                tr, te = rows[:n], rows[n : n + 1000]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    reg = AutoMetaRegressor(blend="uniform", random_state=seed).fit(
                        X.iloc[tr], y[tr]
                    )
                z_tr, z = (
                    reg.target_transform_.transform(y[tr]),
                    reg.target_transform_.transform(y[te]),
                )
                preds = reg.member_predictions(X.iloc[te])
                preds["maml"] = maml_predict(learner, X.iloc[tr], z_tr, X.iloc[te])
                preds["maml_untrained"] = maml_predict(untrained, X.iloc[tr], z_tr, X.iloc[te])
                tasks.append({"dataset": name, "n": n, "z": z, "preds": preds})
    members = sorted(m for m in tasks[0]["preds"] if not m.startswith("maml"))
    out = {
        "train_minutes": round(train_min, 1),
        "steps": args.steps,
        "tasks": len(tasks),
        "r2": {},
        "loto": {},
    }
    for n in (32, 128):
        sub = [t for t in tasks if t["n"] == n]
        out["r2"][n] = {
            m: round(float(np.mean([r2(t["z"], t["preds"][m]) for t in sub])), 4)
            for m in sub[0]["preds"]
        }
    for label, ms in (("without_maml", members), ("with_maml", sorted([*members, "maml"]))):
        held = []
        for name in sorted({t["dataset"] for t in tasks}):
            inside = [t for t in tasks if t["dataset"] != name]
            outside = [t for t in tasks if t["dataset"] == name]
            w = fit_blend(inside, ms, 0.01)
            held.append(_loss(np.array([w[m] for m in ms]), outside, ms))
        out["loto"][label] = round(float(np.mean(held)), 4)
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
