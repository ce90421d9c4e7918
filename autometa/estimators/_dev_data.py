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

#: load a dev data set by canonical name (:func:`autometa.tasks.datasets.load_dev_table`)
load_dev_dataset = _datasets.load_dev_table

__all__ = ["EVALUATION", "NEURAL_TRAIN", "PORTFOLIO_TRAIN", "RESERVED", "load_dev_dataset"]

#: short names of the reserved KEEL sets (balanced and imbalanced), from the registry
RESERVED = frozenset(n.split("/", 1)[1] for n in _datasets.RESERVED)
