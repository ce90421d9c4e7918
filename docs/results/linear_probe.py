"""Probe: the in-context regression learner on linear tasks, against RidgeCV.

Why: on ``autometa bench regressor`` the member alone loses to RidgeCV at 32 and 128 rows, most
of it on one table whose target is close to linear in skewed columns. This probe asks why on
synthetic tasks only (no dev table is read): ``y = X b + noise`` with 6 columns, a random sparse
``b`` and noise at half the signal's standard deviation (R² ceiling 0.8), the columns' marginals
Gaussian, log-normal or zero-inflated exponential, ``n`` training rows and 500 test rows,
8 tasks per cell. It scores

* RidgeCV (alphas 0.1-100) on the raw columns;
* ``member``: the shipped learner reading the rows as ``AutoMetaRegressor`` encodes them for it
  (:class:`~autometa.tasks.TabularEncoder`: each column through its empirical CDF, then the
  normal quantile, "rank-Gauss"; a learner trained with ``spacing`` also gets the encoder's
  z-score columns);
* ``z_only``: the same learner reading each column standardized by the training rows' mean and
  standard deviation, clipped to [-3, 3], instead: a map that keeps the spacing of the values,
  which rank-Gauss gives away.

Run from the repository root: ``OMP_NUM_THREADS=1 python docs/results/linear_probe.py``
(seconds); it writes ``docs/results/linear_probe.json``. ``--campaign DIR`` scores a regression
campaign's current snapshot instead (``--preset`` names its recipe; a learner trained with the
encoder's z-score columns reads them here too) and records it under ``campaigns[DIR]``, next to
the shipped rows. ``--checkpoint FILE --label NAME`` scores a learner file (an earlier shipped
one, kept by its sha256) and records it under ``files[NAME]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's autometa, not another installed copy
OUT = ROOT / "docs" / "results" / "linear_probe.json"
MARGINALS = ("gaussian", "log-normal", "zero-inflated")
SIZES = (32, 128)
TASKS, COLUMNS, N_TEST = 8, 6, 500


def linear_task(seed: int, n: int, marginal: str) -> tuple[np.ndarray, ...]:
    """Training and test rows of one linear task (seeded by ``seed``)."""
    rng = np.random.default_rng([seed, n, MARGINALS.index(marginal)])
    shape = (n + N_TEST, COLUMNS)
    if marginal == "gaussian":
        X = rng.normal(size=shape)
    elif marginal == "log-normal":
        X = rng.lognormal(0.0, 1.0, size=shape)
    else:
        X = rng.exponential(1.0, size=shape) * (rng.random(shape) < 0.5)
    b = rng.normal(size=COLUMNS) * (rng.random(COLUMNS) < 0.6)
    b[rng.integers(COLUMNS)] = rng.normal()  # at least one relevant column
    y = X @ b
    y = y + rng.normal(size=y.shape) * 0.5 * y.std()
    return X[:n], y[:n], X[n:], y[n:]


def z_score(X_train: np.ndarray, X: np.ndarray, d_max: int) -> np.ndarray:
    """Columns standardized by the training rows, clipped to [-3, 3], zero-padded to ``d_max``."""
    mu, sd = X_train.mean(0), X_train.std(0)
    out = np.zeros((X.shape[0], d_max), dtype=np.float32)
    out[:, : X.shape[1]] = np.clip((X - mu) / np.where(sd > 0, sd, 1.0), -3.0, 3.0)
    return out


def learner_r2(learner, xs, y, xq, yq, mask) -> float:
    """R² of the learner's predictive mean (4 feature placements, seed 0)."""
    import torch
    from sklearn.metrics import r2_score

    from autometa.functional._bar import bar_mean
    from autometa.meta._in_context_regression import in_context_regression_distribution

    probs, borders = in_context_regression_distribution(
        learner, torch.from_numpy(xs), y, torch.from_numpy(xq), torch.from_numpy(mask), seed=0
    )
    pred = bar_mean(torch.from_numpy(probs), torch.from_numpy(borders)).numpy()
    return float(r2_score(yq, pred))


def probe(learner=None) -> list[dict[str, object]]:
    """One row per (marginal, size): mean R² of each reader over the tasks (``learner``: the
    shipped regression learner by default)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.metrics import r2_score

    from autometa.estimators._shipped import load_learner
    from autometa.tasks import TabularEncoder

    if learner is None:
        learner = load_learner("default", "regressor_in_context")
    spacing = getattr(learner, "spacing", False)
    rows = []
    for marginal in MARGINALS:
        for n in SIZES:
            scores: dict[str, list[float]] = {"ridge": [], "member": [], "z_only": []}
            for seed in range(TASKS):
                X, y, Xq, yq = linear_task(seed, n, marginal)
                ridge = RidgeCV(alphas=(0.1, 1.0, 10.0, 100.0)).fit(X, y)
                scores["ridge"].append(float(r2_score(yq, ridge.predict(Xq))))
                enc = TabularEncoder(d_max=learner.d_max, c_max=2, spacing=spacing).fit(X)
                (xs, mask), (xq, _) = enc.transform(X), enc.transform(Xq)
                scores["member"].append(learner_r2(learner, xs, y, xq, yq, mask))
                zs, zq = z_score(X, X, learner.d_max), z_score(X, Xq, learner.d_max)
                scores["z_only"].append(learner_r2(learner, zs, y, zq, yq, mask))
            rows.append(
                {"marginal": marginal, "n_train": n, "tasks": TASKS}
                | {k: round(float(np.mean(v)), 4) for k, v in scores.items()}
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    import argparse

    from autometa._provenance import sha256_file
    from autometa.estimators._shipped import shipped_path

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--campaign", default=None, help="score this regression campaign's snapshot"
    )
    parser.add_argument("--preset", default="in-context-regression", help="the campaign's preset")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="score this learner file instead and record it under files[--label] (with its sha256)",
    )
    parser.add_argument("--label", default=None, help="the name --checkpoint is recorded under")
    args = parser.parse_args(argv)
    if args.checkpoint is not None:
        from autometa.estimators._shipped import load_learner

        if not args.label:
            parser.error("--checkpoint needs --label")
        payload = json.loads(OUT.read_text())
        payload.setdefault("files", {})[args.label] = {
            "sha256": sha256_file(args.checkpoint),
            "rows": probe(load_learner(args.checkpoint, "regressor_in_context")),
        }
        OUT.write_text(json.dumps(payload, indent=1) + "\n")
        return 0
    if args.campaign is not None:
        from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign

        preset = CAMPAIGN_PRESETS[args.preset]()
        run = InContextCampaign(args.campaign, **{**preset, "tracking": False})
        learner, curve = run.snapshot(timeout=60)
        payload = json.loads(OUT.read_text())
        payload.setdefault("campaigns", {})[args.campaign] = {
            "preset": args.preset,
            "step": int(curve[-1]["step"]),
            "cpu_hours": round(float(curve[-1]["cpu_hours"]), 3),
            "spacing": bool(getattr(learner, "spacing", False)),
            "rows": probe(learner),
        }
        OUT.write_text(json.dumps(payload, indent=1) + "\n")
        return 0
    payload = {
        "name": "linear_probe",
        "command": "OMP_NUM_THREADS=1 python docs/results/linear_probe.py",
        "learner_sha256": sha256_file(shipped_path("regressor_in_context")),
        "notes": [
            "synthetic linear tasks only: y = X b + noise (noise sd 0.5 x signal sd), 6 columns, "
            "500 test rows; R² of the predictive mean",
        ],
        "rows": probe(),
    }
    before = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for key in ("campaigns", "files"):  # snapshots and files scored earlier stay
        if key in before:
            payload[key] = before[key]
    OUT.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
