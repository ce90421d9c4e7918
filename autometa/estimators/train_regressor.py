"""Meta-learn AutoMetaRegressor's blend weights and spread calibration (``regressor_portfolio.json``).

Tasks are random subsamples (32 and 128 rows, and 512 where a table allows; several seeds; the
rest of the table as the test set) of the dev tables
:data:`autometa.tasks.roles.REGRESSOR_VALIDATION`, which neither the benchmark nor the
in-context learner's training touch. For every task each member is fitted once (through
:class:`~autometa.estimators.AutoMetaRegressor` with a uniform blend) and its test predictions
are kept in the task's transformed target units. Then:

* **blend weights**: softmax weights minimizing the tasks' mean normalized squared error
  (squared error over the test targets' variance, so that every task counts alike) plus a
  small L2 penalty on the logits (toward uniform);
* **spread calibration**: for each spread source (the in-context member's predictive
  distribution, or the Gaussian out-of-bag fallback) the factor that makes the central 80%
  intervals of the learned blend cover 80% of the test targets, averaged over tasks.

The report compares the learned weights with uniform ones by leave-one-table-out (weights fitted
without a table, scored on it). Command::

    python -m autometa.estimators.train_regressor --out autometa/checkpoints/regressor_portfolio.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, stats

from autometa.estimators._regressor import REGRESSOR_PORTFOLIO, AutoMetaRegressor
from autometa.tasks._cells import held_out_cells
from autometa.tasks.roles import REGRESSOR_VALIDATION

__all__ = ["calibrate_spread", "choose_spread", "collect_tasks", "fit_blend", "interval_score", "main"]

LEVELS = np.array([0.1, 0.9])


def collect_tasks(
    datasets: Sequence[str], sizes: Sequence[int], seeds: Sequence[int], *, in_context: bool = True, log: Any = None
) -> list[dict[str, Any]]:
    """Per task: each member's test predictions and the spread offsets, in transformed units."""

    tasks = []
    for name, n, seed, X_train, y_train, X_test, y_test in held_out_cells(
        datasets, sizes, seeds, n_test=1000, sampler="random", salt=7
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reg = AutoMetaRegressor(blend="uniform", random_state=seed,
                                    in_context_learner="default" if in_context else None)  # fmt: skip
            reg.fit(X_train, y_train)
        z = reg.target_transform_.transform(y_test)
        preds = reg.member_predictions(X_test)
        task = {"dataset": name, "n": n, "seed": seed, "z": z, "preds": preds, "oob_sd": reg.oob_std_}
        if "icl" in reg.members_:
            icl = reg.members_["icl"]
            xq = reg.icl_rows(X_test)
            task["icl_offsets"] = icl.predict_quantiles(xq, LEVELS) - icl.predict(xq)[:, None]
        tasks.append(task)
        if log:
            log(f"task {name} n={n} seed={seed}: {sorted(preds)}")
    return tasks


def _loss(weights: np.ndarray, tasks: list[dict[str, Any]], members: list[str]) -> float:
    out = []
    for t in tasks:
        blend = sum(w * t["preds"][m] for w, m in zip(weights, members, strict=True))
        out.append(np.mean((blend - t["z"]) ** 2) / max(np.var(t["z"]), 1e-9))
    return float(np.mean(out))


def fit_blend(tasks: list[dict[str, Any]], members: list[str], l2: float = 0.01) -> dict[str, float]:
    """Softmax member weights minimizing the mean normalized squared error (+ ``l2`` on the logits)."""

    def objective(logits: np.ndarray) -> float:
        w = np.exp(logits - logits.max())
        return _loss(w / w.sum(), tasks, members) + l2 * float(np.sum(logits**2))

    res = optimize.minimize(objective, np.zeros(len(members)), method="Nelder-Mead" if len(members) < 3 else "L-BFGS-B")
    w = np.exp(res.x - res.x.max())
    return dict(zip(members, (w / w.sum()).tolist(), strict=True))


def _interval(t: dict[str, Any], weights: dict[str, float], source: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The scaled central 80% interval of task ``t`` from spread ``source`` around the blend mean."""
    mean = sum(w * t["preds"][m] for m, w in weights.items())
    if source == "icl":
        lo, hi = (mean[:, None] + scale * t["icl_offsets"]).T
        return lo, hi
    half = stats.norm.ppf(0.9) * t["oob_sd"] * scale
    return mean - half, mean + half


def calibrate_spread(tasks: list[dict[str, Any]], weights: dict[str, float], source: str) -> float:
    """The factor on the spread that makes central 80% intervals cover 80% on average over ``tasks``."""

    def coverage(scale: float) -> float:
        covered = []
        for t in tasks:
            lo, hi = _interval(t, weights, source, scale)
            covered.append(np.mean((t["z"] >= lo) & (t["z"] <= hi)))
        return float(np.mean(covered)) - 0.8

    if coverage(0.05) > 0 or coverage(20.0) < 0:
        return 1.0
    return float(optimize.brentq(coverage, 0.05, 20.0, xtol=1e-3))


def interval_score(tasks: list[dict[str, Any]], weights: dict[str, float], source: str, scale: float) -> dict[str, float]:
    """Coverage and the 80% interval score (width + 10 x the miss; proper, lower is better) over ``tasks``.

    Both are averaged per task; the score is in units of the task's target standard deviation.
    """
    cover, score = [], []
    for t in tasks:
        lo, hi = _interval(t, weights, source, scale)
        z = t["z"]
        cover.append(np.mean((z >= lo) & (z <= hi)))
        miss = np.maximum(lo - z, 0.0) + np.maximum(z - hi, 0.0)
        score.append(np.mean(hi - lo + miss / 0.1) / max(float(np.std(z)), 1e-9))
    return {"cover80": float(np.mean(cover)), "interval_score": float(np.mean(score))}


def choose_spread(tasks: list[dict[str, Any]], members: list[str], l2: float) -> dict[str, Any]:
    """Leave one table out: which spread source, calibrated on the other tables, scores best?

    For each held-out table the blend weights and each source's scale are fitted on the other
    tables, then the held-out table's coverage and interval score are measured. The source with
    the lower mean interval score is chosen (ties and a missing in-context member: ``"oob"``).
    """
    sources = ["oob", "icl"] if "icl" in members else ["oob"]
    held: dict[str, list[dict[str, float]]] = {s: [] for s in sources}
    for name in sorted({t["dataset"] for t in tasks}):
        inside = [t for t in tasks if t["dataset"] != name]
        outside = [t for t in tasks if t["dataset"] == name]
        w = fit_blend(inside, members, l2)
        for source in sources:
            held[source].append(interval_score(outside, w, source, calibrate_spread(inside, w, source)))
    summary = {s: {k: float(np.mean([h[k] for h in v])) for k in v[0]} for s, v in held.items()}
    best = min(sources, key=lambda s: (summary[s]["interval_score"], s != "oob"))
    return {"spread": best, "leave_one_table_out": summary}


def main(argv: list[str] | None = None) -> int:

    p = argparse.ArgumentParser(prog="python -m autometa.estimators.train_regressor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--out", type=Path, default=REGRESSOR_PORTFOLIO, help="where to write the JSON")
    p.add_argument("--seeds", type=int, default=10, help="seeds per (table, size)")
    p.add_argument("--l2", type=float, default=0.01, help="L2 penalty on the weight logits")
    p.add_argument("--no-icl", action="store_true", help="leave the in-context member out")
    args = p.parse_args(argv)
    t0 = time.time()
    sizes = (32, 128, 512)
    tasks = collect_tasks(REGRESSOR_VALIDATION, sizes, range(args.seeds), in_context=not args.no_icl,
                          log=lambda m: print(m, file=sys.stderr, flush=True))  # fmt: skip
    members = sorted(tasks[0]["preds"])
    weights = fit_blend(tasks, members, args.l2)
    uniform = dict.fromkeys(members, 1.0 / len(members))
    # leave one table out: is the learned blend better than uniform on a table it never saw?
    held = {"learned": [], "uniform": []}
    for name in sorted({t["dataset"] for t in tasks}):
        inside = [t for t in tasks if t["dataset"] != name]
        outside = [t for t in tasks if t["dataset"] == name]
        w = fit_blend(inside, members, args.l2)
        held["learned"].append(_loss(np.array([w[m] for m in members]), outside, members))
        held["uniform"].append(_loss(np.full(len(members), 1 / len(members)), outside, members))
    scales = {"oob": calibrate_spread(tasks, weights, "oob"),
              "icl": calibrate_spread(tasks, weights, "icl") if "icl" in members else 1.0}  # fmt: skip
    spread = choose_spread(tasks, members, args.l2)
    info = {
        "what": "AutoMetaRegressor blend weights and spread calibration, meta-learned across dev tasks",
        "data_sets": list(REGRESSOR_VALIDATION),
        "sizes": list(sizes),
        "seeds": args.seeds,
        "tasks": len(tasks),
        "l2": args.l2,
        "loss_learned": _loss(np.array([weights[m] for m in members]), tasks, members),
        "loss_uniform": _loss(np.array([uniform[m] for m in members]), tasks, members),
        "leave_one_table_out": {k: float(np.mean(v)) for k, v in held.items()},
        "icl_calibrated": "icl" in members,
        "spread_leave_one_table_out": spread["leave_one_table_out"],
        "command": "python -m autometa.estimators.train_regressor " + " ".join(argv if argv is not None else sys.argv[1:]),
        "minutes": round((time.time() - t0) / 60, 1),
    }
    payload = {"members": members, "weights": weights, "spread": spread["spread"], "spread_scale": scales, "info": info}
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps({"weights": weights, "spread": spread["spread"], "spread_scale": scales, **info}, indent=1))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
