"""Synthetic families of tuning problems, for leave-one-family-out validation of MetaSampler.

Each family draws random *instances* (seeded) with one kind of structure that the shipped
meta-knowledge has never seen in this form (it learned from HPOBench tables, smooth GP-prior
functions and the generic landscapes of :func:`~autometa.optuna._pool.synthetic_landscapes`,
whose generators share no code with these):

* ``plateaus``: piecewise-constant steps (quantized distances to a random optimum);
* ``log_optima``: narrow sweet spots of log-scaled parameters, some parameters irrelevant;
* ``categorical``: two interacting categorical parameters that also move a float optimum;
* ``conditional``: a categorical "model" choice with different parameters under each model;
* ``noisy``: a smooth rotated quadratic-plus-cosine bowl with heavy observation noise.

An instance is an objective for ``study.optimize`` (minimize) plus its percentile regret: the
share of a fixed reference sample of configurations whose noise-free loss is strictly better
than a configuration's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import optuna

__all__ = ["FAMILIES", "SyntheticInstance", "make_instance"]

FAMILIES: tuple[str, ...] = ("plateaus", "log_optima", "categorical", "conditional", "noisy")
_N_REFERENCE = 4000


@dataclass
class SyntheticInstance:
    """One random problem of a family.

    Attributes
    ----------
    family : str
        Family name.
    suggest : callable
        ``suggest(trial) -> params``: asks the trial for a configuration (define-by-run).
    sample : callable
        ``sample(rng) -> params``: a uniformly random configuration (for the reference sample).
    loss : callable
        ``loss(params) -> float``: the noise-free loss.
    noise : float
        Standard deviation of the Gaussian noise added by :meth:`objective`.
    """

    family: str
    suggest: Callable[[optuna.Trial], dict[str, Any]]
    sample: Callable[[np.random.Generator], dict[str, Any]]
    loss: Callable[[dict[str, Any]], float]
    noise: float = 0.0

    def __post_init__(self) -> None:
        rng = np.random.default_rng(12345)
        self._reference = np.sort([self.loss(self.sample(rng)) for _ in range(_N_REFERENCE)])

    def objective(self, rng: np.random.Generator | None = None) -> Callable[[optuna.Trial], float]:
        """An Optuna objective (minimize); noisy draws come from ``rng`` when ``noise > 0``."""

        def f(trial: optuna.Trial) -> float:
            value = self.loss(self.suggest(trial))
            if self.noise > 0 and rng is not None:
                value += self.noise * float(rng.standard_normal())
            return value

        return f

    def percentile_regret(self, params: dict[str, Any]) -> float:
        """Share of the reference configurations strictly better than ``params`` (noise-free)."""
        value = self.loss(params)
        return float(np.searchsorted(self._reference, value, side="left") / self._reference.size)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _plateaus(rng: np.random.Generator) -> SyntheticInstance:
    names = ["p0", "p1", "p2", "p3"]
    center = rng.uniform(0.1, 0.9, size=4)
    levels = rng.integers(3, 7, size=4)
    weights = rng.uniform(0.5, 1.5, size=4)

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        return {n: trial.suggest_float(n, 0.0, 1.0) for n in names}

    def sample(r: np.random.Generator) -> dict[str, Any]:
        return {n: float(r.uniform()) for n in names}

    def loss(p: dict[str, Any]) -> float:
        u = np.array([p[n] for n in names])
        return float(np.sum(weights * np.floor(levels * np.abs(u - center))))

    return SyntheticInstance("plateaus", suggest, sample, loss)


def _log_optima(rng: np.random.Generator) -> SyntheticInstance:
    names = ["lr", "reg", "eps", "scale", "decay"]
    logc = rng.uniform(-5.5, -0.5, size=5)
    relevant = np.array([1.0, 1.0, 1.0, 0.0, 0.0])[rng.permutation(5)]
    width = rng.uniform(0.4, 1.0, size=5)

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        return {n: trial.suggest_float(n, 1e-6, 1.0, log=True) for n in names}

    def sample(r: np.random.Generator) -> dict[str, Any]:
        return {n: _log_uniform(r, 1e-6, 1.0) for n in names}

    def loss(p: dict[str, Any]) -> float:
        d = (np.log10([p[n] for n in names]) - logc) / width
        return float(-np.sum(relevant * np.exp(-0.5 * d * d)))

    return SyntheticInstance("log_optima", suggest, sample, loss)


def _categorical(rng: np.random.Generator) -> SyntheticInstance:
    a_choices, b_choices = ["a0", "a1", "a2", "a3"], ["b0", "b1", "b2"]
    table = rng.normal(size=(4, 3))
    shift = rng.uniform(0.1, 0.9, size=(4, 3))

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        return {
            "kind": trial.suggest_categorical("kind", a_choices),
            "mode": trial.suggest_categorical("mode", b_choices),
            "x": trial.suggest_float("x", 0.0, 1.0),
            "n": trial.suggest_int("n", 1, 16),
        }

    def sample(r: np.random.Generator) -> dict[str, Any]:
        return {
            "kind": a_choices[int(r.integers(4))],
            "mode": b_choices[int(r.integers(3))],
            "x": float(r.uniform()),
            "n": int(r.integers(1, 17)),
        }

    def loss(p: dict[str, Any]) -> float:
        i, j = a_choices.index(p["kind"]), b_choices.index(p["mode"])
        return float(
            table[i, j]
            + 4.0 * (p["x"] - shift[i, j]) ** 2
            + 0.01 * abs(p["n"] - 4 - 8 * shift[i, j])
        )

    return SyntheticInstance("categorical", suggest, sample, loss)


def _conditional(rng: np.random.Generator) -> SyntheticInstance:
    base = rng.normal(scale=0.3, size=3)
    c = rng.uniform(0.1, 0.9, size=4)
    logc = rng.uniform(-4.0, -1.0)

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        model = trial.suggest_categorical("model", ["linear", "tree", "net"])
        p: dict[str, Any] = {"model": model}
        if model == "linear":
            p["C"] = trial.suggest_float("C", 1e-5, 1.0, log=True)
        elif model == "tree":
            p["depth"] = trial.suggest_int("depth", 1, 12)
            p["frac"] = trial.suggest_float("frac", 0.0, 1.0)
        else:
            p["lr"] = trial.suggest_float("lr", 1e-5, 1.0, log=True)
            p["drop"] = trial.suggest_float("drop", 0.0, 1.0)
        return p

    def sample(r: np.random.Generator) -> dict[str, Any]:
        model = ["linear", "tree", "net"][int(r.integers(3))]
        p: dict[str, Any] = {"model": model}
        if model == "linear":
            p["C"] = _log_uniform(r, 1e-5, 1.0)
        elif model == "tree":
            p["depth"], p["frac"] = int(r.integers(1, 13)), float(r.uniform())
        else:
            p["lr"], p["drop"] = _log_uniform(r, 1e-5, 1.0), float(r.uniform())
        return p

    def loss(p: dict[str, Any]) -> float:
        if p["model"] == "linear":
            return float(base[0] + 0.2 * (math.log10(p["C"]) - logc) ** 2)
        if p["model"] == "tree":
            return float(
                base[1] + ((p["depth"] / 12.0) - c[0]) ** 2 * 3 + 2 * (p["frac"] - c[1]) ** 2
            )
        return float(
            base[2] - 0.5 + 0.15 * (math.log10(p["lr"]) + 2.5) ** 2 + 3 * (p["drop"] - c[3]) ** 2
        )

    return SyntheticInstance("conditional", suggest, sample, loss)


def _noisy(rng: np.random.Generator) -> SyntheticInstance:
    d = 4
    names = [f"z{i}" for i in range(d)]
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    scales = np.exp(rng.uniform(-1.0, 1.0, size=d))
    center = rng.uniform(0.2, 0.8, size=d)

    def suggest(trial: optuna.Trial) -> dict[str, Any]:
        return {n: trial.suggest_float(n, 0.0, 1.0) for n in names}

    def sample(r: np.random.Generator) -> dict[str, Any]:
        return {n: float(r.uniform()) for n in names}

    def loss(p: dict[str, Any]) -> float:
        v = q @ (np.array([p[n] for n in names]) - center)
        return float(np.sum(scales * v * v) + 0.1 * np.sum(1 - np.cos(8 * math.pi * v)))

    return SyntheticInstance("noisy", suggest, sample, loss, noise=0.3)


_MAKERS: dict[str, Callable[[np.random.Generator], SyntheticInstance]] = {
    "plateaus": _plateaus,
    "log_optima": _log_optima,
    "categorical": _categorical,
    "conditional": _conditional,
    "noisy": _noisy,
}


def make_instance(family: str, seed: int) -> SyntheticInstance:
    """A random instance of ``family`` (same seed, same instance).

    Raises
    ------
    ValueError
        If ``family`` is not one of :data:`FAMILIES`.
    """
    if family not in _MAKERS:
        raise ValueError(f"unknown synthetic family {family!r}; choose from {', '.join(FAMILIES)}.")
    return _MAKERS[family](np.random.default_rng([7, seed, FAMILIES.index(family)]))
