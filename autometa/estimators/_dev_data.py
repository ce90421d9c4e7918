"""The classifier's data-set roles, as names this package has always used.

The lists themselves live in :mod:`autometa.tasks.roles` (the one place that says which data
set trains or evaluates which shipped part) and the loading in
:mod:`autometa.tasks.datasets`; this module keeps the classifier's short names:

``NEURAL_TRAIN``
    Meta-training of the neural members' learners (plus synthetic tasks).
``PORTFOLIO_TRAIN``
    Learning the combination weights, and meta-validation of the neural members.
``EVALUATION``
    ``autometa bench classifier`` only; never used to train or tune anything.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from autometa.tasks import datasets as _datasets
from autometa.tasks.roles import (
    CLASSIFIER_EVALUATION as EVALUATION,
)
from autometa.tasks.roles import (
    CLASSIFIER_NEURAL_TRAIN as NEURAL_TRAIN,
)
from autometa.tasks.roles import (
    CLASSIFIER_PORTFOLIO_TRAIN as PORTFOLIO_TRAIN,
)

__all__ = ["EVALUATION", "NEURAL_TRAIN", "PORTFOLIO_TRAIN", "RESERVED", "load_dev_dataset"]

#: short names of the reserved KEEL sets (balanced and imbalanced), from the registry
RESERVED = frozenset(n.split("/", 1)[1] for n in _datasets.RESERVED)


def load_dev_dataset(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Load a dev data set by name (``"keel/<name>"``, ``"keel-imb/<name>"``, ``"sklearn/<name>"``).

    Returns a copy of ``(X, y)``: a DataFrame (string columns stay strings, ``?`` becomes NaN)
    and a label array (KEEL labels as stripped strings).

    Raises
    ------
    ValueError
        For a reserved set, an unknown name, or ``sklearn/breast_cancer`` (the same rows as
        the evaluation set ``keel/wdbc``).
    """
    source, _, base = name.partition("/")
    if source not in ("keel", "keel-imb", "sklearn") or not base:
        raise ValueError(f"Unknown dev data set {name!r}; names look like 'keel/wine' or 'sklearn/digits'.")
    if name == "sklearn/breast_cancer":
        raise ValueError("sklearn/breast_cancer duplicates keel/wdbc (an evaluation set); not used.")
    X, y = _datasets.load_dataset(name)
    if source == "sklearn":
        return X, y.to_numpy()
    return X, y.astype(str).str.strip().to_numpy()
