"""Meta-learn the classifier combiner's ``n0`` (``classifier_combiner.json``).

AutoMetaClassifier starts from the meta-learned portfolio weights (the prior) and moves them by
greedy ensemble selection on the members' out-of-fold predictions, the evidence's share being
``n / (n + n0)`` (:mod:`autometa.estimators._combiner`). This script chooses ``n0`` on tasks
cut from the ``CLASSIFIER_PORTFOLIO_TRAIN`` dev tables (never an evaluation table): for each
task every default member is fitted once with its 3-fold out-of-fold probabilities, and the
blend's held-out ROC-AUC is computed for every ``n0`` of a grid (``0``: evidence only, ``inf``:
the prior alone). The ``n0`` with the best mean AUC is written, with the per-size means (the
crossover between prior and evidence). Command::

    python -m autometa.estimators.train_combiner --tables 16 --seeds 2

The portfolio itself was fitted on these tables, so the prior looks better here than on a new
table: the choice leans toward the prior (conservative).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from autometa._metrics import mean_ovr_auc
from autometa._provenance import recipe_command, record_hash, sha256_file
from autometa._record_log import RecordLog
from autometa.estimators import _classifier
from autometa.estimators._base import FOLDS, ROUNDS
from autometa.estimators._combiner import greedy_selection, log_loss
from autometa.estimators._dev_data import PORTFOLIO_TRAIN, load_dev_dataset
from autometa.estimators._shipped import shipped_path

__all__ = ["COMBINER_FILE", "analyse", "collect", "main"]

COMBINER_FILE = shipped_path("classifier_combiner")
N0_GRID = (0.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, math.inf)
SIZES = (32, 128, 512)


def _tables(k: int) -> list[str]:
    names = sorted(PORTFOLIO_TRAIN)
    rng = np.random.default_rng(0)
    return sorted(rng.choice(names, size=min(k, len(names)), replace=False).tolist())


def collect(path: Path, tables: list[str], seeds: int, log: Any = print) -> list[dict[str, Any]]:
    """Per task: members' out-of-fold and test probabilities, prior weights, labels (appended to ``path``)."""
    store = RecordLog(path)
    _classifier._OOF_ALWAYS = True
    try:
        with store:
            for name in tables:
                X, y = load_dev_dataset(name)
                for n in SIZES:
                    if len(y) < n + 100:
                        continue
                    for seed in range(seeds):
                        if (name, n, seed) in store:
                            continue
                        t0 = time.perf_counter()
                        rows = np.random.default_rng([seed, n, 11]).permutation(len(y))
                        tr, te = rows[:n], rows[n : n + 1000]
                        if len(np.unique(y[tr])) < 2:
                            continue
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            clf = _classifier.AutoMetaClassifier(blend="prior", random_state=seed)
                            clf.fit(X.iloc[tr], y[tr])
                            keep = np.isin(y[te], clf.classes_)
                            Xte = X.iloc[te[keep]]
                            proba = clf.member_predictions(Xte)
                        rec = {"dataset": name, "n": n, "seed": seed, "y_train": np.searchsorted(clf.classes_, y[tr]),
                               "y": np.searchsorted(clf.classes_, y[te[keep]]), "oof": clf.oof_predictions_,
                               "proba": proba, "prior": clf.prior_weights_,
                               "seconds": time.perf_counter() - t0}  # fmt: skip
                        store.add(rec)
                        log(f"task {name} n={n} seed={seed}: {rec['seconds']:.1f} s")
    finally:
        _classifier._OOF_ALWAYS = False
    return list(store.done.values())


def _score(t: dict[str, Any], w: dict[str, float]) -> tuple[float, float]:
    p = sum(v * t["proba"][m] for m, v in w.items())
    return mean_ovr_auc(t["y"], p), log_loss(p, t["y"])


def analyse(tasks: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean held-out AUC and log-loss per ``n0`` (overall and per size); the chosen ``n0``."""
    rows = []
    for t in tasks:
        if not t["oof"] or len(np.unique(t["y"])) < 2:
            continue
        row = {"n": t["n"], "dataset": t["dataset"]}
        for n0 in N0_GRID:
            w = greedy_selection(
                t["oof"], t["y_train"], log_loss, prior=t["prior"], n0=n0, rounds=20
            )
            row[f"{n0:g}"] = _score(t, w)
        uniform = dict.fromkeys(t["oof"], 1.0)
        row["evidence_uniform_start"] = _score(t, greedy_selection(t["oof"], t["y_train"], log_loss, prior=uniform,
                                                                   n0=0.0, rounds=20))  # fmt: skip
        row["best_member"] = (
            max(mean_ovr_auc(t["y"], p) for p in t["proba"].values()),
            float("nan"),
        )
        rows.append(row)
    keys = [f"{n0:g}" for n0 in N0_GRID] + ["evidence_uniform_start", "best_member"]
    auc = {k: float(np.mean([r[k][0] for r in rows])) for k in keys}
    by_size = {str(n): {k: float(np.mean([r[k][0] for r in rows if r["n"] == n])) for k in keys}
               | {"tasks": sum(r["n"] == n for r in rows)} for n in sorted({r["n"] for r in rows})}  # fmt: skip
    n0 = max(N0_GRID, key=lambda v: (auc[f"{v:g}"], v))  # ties: the larger n0 (closer to the prior)
    return {"n0": n0, "auc_by_n0": auc, "auc_by_size": by_size, "tasks": len(rows),
            "logloss_by_n0": {k: float(np.mean([r[k][1] for r in rows])) for k in keys[:-2]}}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m autometa.estimators.train_combiner", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--out", type=Path, default=COMBINER_FILE)
    p.add_argument("--cache", type=Path, default=Path("runs/classifier_combiner_tasks.pkl"))
    p.add_argument("--tables", type=int, default=16, help="PORTFOLIO_TRAIN tables drawn (seeded)")
    p.add_argument("--seeds", type=int, default=2)
    args = p.parse_args(argv)
    t0 = time.time()
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    tables = _tables(args.tables)
    tasks = collect(
        args.cache, tables, args.seeds, log=lambda m: print(m, file=sys.stderr, flush=True)
    )
    tasks = [t for t in tasks if t["dataset"] in tables and t["seed"] < args.seeds]
    report = analyse(tasks)
    portfolio = shipped_path("classifier_portfolio")
    payload = {
        "format": "autometa.classifier-combiner", "n0": report["n0"] if math.isfinite(report["n0"]) else None,
        "folds": FOLDS, "rounds": ROUNDS,
        "info": {"data_sets": tables, "sizes": list(SIZES), "seeds": args.seeds, **report,
                 "portfolio_sha256": sha256_file(portfolio),
                 "command": recipe_command("autometa.estimators.train_combiner", argv),
                 "minutes": round((time.time() - t0) / 60, 1)},
    }  # fmt: skip
    args.out.write_text(json.dumps(payload, indent=1, default=float) + "\n")
    if args.out.resolve() == COMBINER_FILE.resolve():  # the shipped file: its card's hash follows
        record_hash(COMBINER_FILE.with_name("model_card.json"), COMBINER_FILE)
    print(json.dumps(payload, indent=1, default=float))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
