"""Meta-training of :class:`~autometa.optuna.MetaKnowledge` (what the shipped file contains).

Three things are learned from the task pool:

1. GP hyperparameters (length scale per ``sqrt(n_features)`` and noise) that maximize the mean
   log marginal likelihood over subsampled tasks (synthetic GP-prior functions and the
   HPOBench tables given);
2. for each dimension 1..``max_dim``, an initial design: a portfolio of unit-cube points built
   greedily to minimize the mean percentile regret across synthetic tuning landscapes
   (:func:`~autometa.optuna._pool.synthetic_landscapes`: GP functions with irrelevant
   dimensions, basins, plateaus, sweet spots);
3. an archive of the HPOBench tables given (best third and a random rest of each table),
   used as source tasks whenever a study's parameters match the HPOBench space by name.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from scipy.stats import qmc

from autometa.optuna._gp import GP, gaussianize
from autometa.optuna._knowledge import MetaKnowledge
from autometa.optuna._pool import (
    HPOBENCH_DATASETS,
    HPOBenchTable,
    hpobench_space,
    suggest_hpobench,
    synthetic_gp_functions,
    synthetic_landscapes,
)
from autometa.optuna._sampler import MetaSampler, single_threaded_blas
from autometa.optuna._space import NormalizedSpace

__all__ = ["greedy_portfolio", "learn_designs", "learn_gp_hyperparameters", "train_meta_knowledge"]

_LENGTHSCALES = np.geomspace(0.04, 1.0, 12)
_NOISES = (1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 0.3)


def greedy_portfolio(ranks: np.ndarray, size: int) -> list[int]:
    """Greedily pick ``size`` columns of ``ranks`` ``[tasks, candidates]`` (regret, lower is
    better) minimizing the mean over tasks of the best regret in the portfolio."""
    best = np.ones(ranks.shape[0])
    chosen: list[int] = []
    for _ in range(min(size, ranks.shape[1])):
        score = np.minimum(best[:, None], ranks).mean(axis=0) + 1e-3 * ranks.mean(axis=0)
        score[chosen] = np.inf
        j = int(np.argmin(score))
        chosen.append(j)
        best = np.minimum(best, ranks[:, j])
    return chosen


def _percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Row-wise share of candidates strictly better (lower) than each candidate."""
    s = np.sort(values, axis=1)
    return (
        np.stack([np.searchsorted(s[i], values[i], side="left") for i in range(len(values))])
        / values.shape[1]
    )


def learn_designs(
    max_dim: int,
    size: int,
    n_functions: int,
    n_candidates: int,
    seed: int,
    prior: str = "landscapes",
) -> tuple[dict[int, list[list[float]]], dict[str, float]]:
    """Meta-learn an initial design for each dimension on synthetic functions.

    ``prior="landscapes"`` (default) learns from :func:`synthetic_landscapes` (GP functions with
    irrelevant dimensions, basins, plateaus, sweet spots); ``prior="gp"`` from stationary GP-prior
    functions only (the first wave's design, which crowds the faces of the cube). Returns the
    designs and validation metrics: mean percentile regret after ``size`` points of the learned
    design, of uniform random points and of a scrambled Sobol sequence, on held-out functions of
    the landscape prior (``design_regret@size/...``) and of the GP prior
    (``design_regret@size/gp/...``).
    """
    if prior not in _DESIGN_PRIORS:
        raise ValueError(f"prior must be one of {sorted(_DESIGN_PRIORS)}; got {prior!r}.")
    with single_threaded_blas():
        return _learn_designs(max_dim, size, n_functions, n_candidates, seed, prior)


_DESIGN_PRIORS = {"landscapes": synthetic_landscapes, "gp": synthetic_gp_functions}


def _learn_designs(
    max_dim: int, size: int, n_functions: int, n_candidates: int, seed: int, prior: str
) -> tuple[dict[int, list[list[float]]], dict[str, float]]:
    rng = np.random.default_rng(seed)
    designs: dict[int, list[list[float]]] = {}
    reg: dict[str, list[float]] = {}
    for d in range(1, max_dim + 1):
        cand = qmc.Sobol(d, scramble=True, seed=int(rng.integers(2**31))).random(n_candidates)
        r_train = _percentile_ranks(_DESIGN_PRIORS[prior](cand, n_functions, rng))
        chosen = greedy_portfolio(r_train, size)
        designs[d] = cand[chosen].tolist()
        rand = rng.choice(n_candidates, size=(64, size))
        for name, make in _DESIGN_PRIORS.items():
            r_val = _percentile_ranks(make(cand, n_functions // 2, rng))
            tag = "" if name == "landscapes" else "gp/"
            reg.setdefault(f"{tag}learned", []).append(float(r_val[:, chosen].min(axis=1).mean()))
            reg.setdefault(f"{tag}random", []).append(
                float(np.mean([r_val[:, c].min(axis=1).mean() for c in rand]))
            )
            # The candidates are a scrambled Sobol sequence: its first points are a Sobol design.
            reg.setdefault(f"{tag}sobol", []).append(float(r_val[:, :size].min(axis=1).mean()))
    metrics = {f"design_regret@{size}/{k}": float(np.mean(v)) for k, v in reg.items()}
    return designs, metrics


def _gp_tasks(
    tables: Sequence[HPOBenchTable], n_points: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    tasks: list[tuple[np.ndarray, np.ndarray]] = []
    for d in (1, 2, 3, 5, 8):
        for _ in range(6):
            x = rng.random((n_points, d))
            y = synthetic_gp_functions(x, 1, rng)[0] + 0.05 * rng.standard_normal(n_points)
            tasks.append((x, gaussianize(y)))
    space = NormalizedSpace(hpobench_space())
    for table in tables:
        for _ in range(6):
            rows = rng.choice(table.mean_acc.size, size=n_points, replace=False)
            params = table.params_of(rows)
            internal = np.stack([space.internal_from_params(p) for p in params])
            tasks.append(
                (space.features_from_internal(internal), gaussianize(-table.mean_acc[rows]))
            )
    return tasks


def learn_gp_hyperparameters(
    tables: Sequence[HPOBenchTable], n_points: int, seed: int
) -> tuple[float, float, dict[str, float]]:
    """Grid-search the length scale (per ``sqrt(n_features)``) and noise maximizing the mean
    log marginal likelihood over pool tasks."""
    rng = np.random.default_rng(seed)
    tasks = _gp_tasks(tables, n_points, rng)
    best = (-np.inf, 0.25, 1e-3)
    for ell in _LENGTHSCALES:
        for noise in _NOISES:
            lml = float(
                np.mean(
                    [
                        GP(ell * math.sqrt(x.shape[1]), noise).fit(x, y).log_marginal_likelihood()
                        for x, y in tasks
                    ]
                )
            )
            if lml > best[0]:
                best = (lml, float(ell), float(noise))
    default = float(
        np.mean(
            [
                GP(0.25 * math.sqrt(x.shape[1]), 1e-3).fit(x, y).log_marginal_likelihood()
                for x, y in tasks
            ]
        )
    )
    return best[1], best[2], {"gp_lml/meta_learned": best[0], "gp_lml/untuned_default": default}


def train_meta_knowledge(
    hpobench: Sequence[str] = HPOBENCH_DATASETS,
    *,
    seed: int = 0,
    archive_points: int = 512,
    design_size: int = 10,
    max_dim: int = 8,
    n_functions: int = 96,
    n_candidates: int = 256,
    quick: bool = False,
    tables: dict[str, HPOBenchTable] | None = None,
    designs: tuple[dict[int, list[list[float]]], dict[str, float]] | None = None,
) -> tuple[MetaKnowledge, dict[str, float]]:
    """Meta-train the sampler's knowledge on synthetic functions and HPOBench tables.

    Parameters
    ----------
    hpobench : sequence of str
        HPOBench data sets to learn from (all 8 for the shipped knowledge; 7 in a
        leave-one-data-set-out benchmark fold).
    seed : int
        Seed of every random choice.
    archive_points : int
        Configurations archived (the same rows for every HPOBench table: half from the tables'
        best configurations, the rest random).
    design_size, max_dim, n_functions, n_candidates : int
        Size of each initial design, largest dimension with a design, synthetic functions per
        dimension, candidate points per dimension.
    quick : bool
        Tiny settings for tests.
    tables : dict, optional
        Already loaded tables (to share them across folds).
    designs : tuple, optional
        The output of :func:`learn_designs`, to reuse (it depends on synthetic tasks only).

    Returns
    -------
    knowledge : MetaKnowledge
    metrics : dict of str to float
    """

    # Small matrices: multi-threaded BLAS only adds contention.
    with single_threaded_blas():
        return _train(
            hpobench,
            seed,
            archive_points,
            design_size,
            max_dim,
            n_functions,
            n_candidates,
            quick,
            tables,
            designs,
        )


def _train(
    hpobench: Sequence[str],
    seed: int,
    archive_points: int,
    design_size: int,
    max_dim: int,
    n_functions: int,
    n_candidates: int,
    quick: bool,
    tables: dict[str, HPOBenchTable] | None,
    designs: tuple[dict[int, list[list[float]]], dict[str, float]] | None,
) -> tuple[MetaKnowledge, dict[str, float]]:
    unknown = sorted(set(hpobench) - set(HPOBENCH_DATASETS))
    if unknown:
        raise ValueError(f"unknown HPOBench data sets {unknown}; choose from {HPOBENCH_DATASETS}.")
    if quick:
        n_functions, n_candidates, max_dim = 16, 64, 3
    start = time.perf_counter()
    loaded = [(tables or {}).get(n) or HPOBenchTable(n) for n in hpobench]
    ell, noise, m_gp = learn_gp_hyperparameters(loaded, 32 if quick else 48, seed)
    if designs is None:
        designs = learn_designs(max_dim, design_size, n_functions, n_candidates, seed + 1)
    design_points, m_design = designs
    rng = np.random.default_rng(seed + 2)
    # One shared set of rows for all tables (the union of each table's best configurations and
    # random ones), so that every archived configuration is evaluated on every archived task.
    n_top = archive_points // (2 * max(len(loaded), 1)) if loaded else 0
    top = (
        np.unique(np.concatenate([t.top_rows(n_top) for t in loaded]))
        if loaded
        else np.zeros(0, int)
    )
    n_rows = loaded[0].mean_acc.size if loaded else 0
    rest = np.setdiff1d(np.arange(n_rows), top)
    rand = (
        rng.choice(rest, size=min(len(rest), archive_points - len(top)), replace=False)
        if loaded
        else rest
    )
    rows = np.sort(np.concatenate([top, rand]).astype(int))
    archive = [t.as_task(rows) for t in loaded]
    metrics = {**m_gp, **m_design, "gp_lengthscale": ell, "gp_noise": noise}
    metrics["train_seconds"] = time.perf_counter() - start
    knowledge = MetaKnowledge(
        gp_lengthscale=ell,
        gp_noise=noise,
        designs=design_points,
        tasks=archive,
        metadata={
            "pool": {
                "hpobench": list(hpobench),
                "synthetic": "GP hyperparameters: Matern-5/2 GP-prior functions, dims 1, 2, 3, 5, 8, length scales "
                "0.1-0.6*sqrt(d); initial designs: synthetic_landscapes (GP functions with irrelevant "
                f"dimensions, basins, plateaus, sweet spots), dims 1..{max_dim}",
            },
            "seed": seed,
            "settings": {
                "archive_points": archive_points,
                "design_size": design_size,
                "max_dim": max_dim,
                "n_functions": n_functions,
                "n_candidates": n_candidates,
            },
        },
    )
    return knowledge, metrics


def lodo_regret(
    knowledge_for: Any, datasets: Sequence[str], n_trials: int, seeds: Sequence[int]
) -> dict[str, float]:
    """Percentile regret after ``n_trials`` of MetaSampler on each data set, with meta-knowledge
    that excludes it (``knowledge_for(name)``), no source studies."""
    out: dict[str, float] = {}
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        _lodo(knowledge_for, datasets, n_trials, seeds, out)
    finally:
        optuna.logging.set_verbosity(verbosity)
    out[f"lodo_regret@{n_trials}/mean"] = float(np.mean(list(out.values())))
    return out


def _lodo(
    knowledge_for: Any,
    datasets: Sequence[str],
    n_trials: int,
    seeds: Sequence[int],
    out: dict[str, float],
) -> None:

    for name in datasets:
        table = HPOBenchTable(name)
        regs = []
        for seed in seeds:
            study = optuna.create_study(
                direction="maximize", sampler=MetaSampler(knowledge=knowledge_for(name), seed=seed)
            )
            study.optimize(lambda t, tb=table: tb.evaluate(suggest_hpobench(t)), n_trials=n_trials)
            regs.append(table.percentile_regret(study.best_params))
        out[f"lodo_regret@{n_trials}/{name}"] = float(np.mean(regs))
