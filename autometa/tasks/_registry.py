"""Pool specs: the strings ``autometa meta-train --pool`` understands.

Grammar (whitespace ignored)::

    spec      := component ("," component)*          # several components -> MixturePool
    component := pool ["@" weight]                   # weight: mixture weight (default 1)
    pool      := "synthetic" [":" kind ("+" kind)*]  # kind: mlp | scm | gmm
               | "keel-dev" | "keel-balanced-dev" | "keel-imbalanced-dev" | "sklearn" | "dev"
               | "dataset:" name ("+" name)*          # registry names, e.g. dataset:letter+wine
               | "episodic:" dataset [":" N "way" K "shot"]   # e.g. episodic:letter:5way1shot
               | "folder:" path [":target=" column]   # CSV/Parquet files with a target column
               | "images:" path [":" N "way" K "shot"]  # Omniglot-format image folder

Examples: ``"synthetic"``, ``"synthetic:mlp+gmm"``, ``"synthetic@0.5,keel-dev@0.5"``,
``"episodic:digits:5way5shot"``, ``"folder:/data/my_tables:target=label"``.

Data-set pools honour ``split``: ``"train"`` and ``"val"`` are a deterministic partition of
whole data-set *families* (all copies and derived versions of one data set stay on one side;
see :func:`autometa.tasks.datasets.dev_split`), ``"all"`` uses every dev data set. Episodic
pools take ``"train"``, ``"val"`` or ``"test"`` (class-disjoint). The synthetic prior ignores
``split``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from autometa.tasks._task import TaskPool

__all__ = ["list_pools", "make_pool"]

_POOLS: dict[str, str] = {
    "synthetic": "random classification tasks from random MLP, SCM and Gaussian-mixture generators "
    "(variants: synthetic:mlp, synthetic:scm+gmm, synthetic:mlp+scm+gmm+tree, ...)",
    "keel-dev": "KEEL dev data sets, balanced and imbalanced (reserved sets excluded); "
    "split=train|val|all over whole data-set families",
    "keel-balanced-dev": "the 29 KEEL balanced dev data sets; split=train|val|all",
    "keel-imbalanced-dev": "the KEEL imbalanced dev data sets; split=train|val|all",
    "sklearn": "scikit-learn's iris, wine, breast_cancer, digits (same data as KEEL iris, wine, wdbc, "
    "optdigits: do not mix with keel-dev); split=train|val|all",
    "dev": "every dev data set (KEEL and scikit-learn; copies share a family and are drawn as one); "
    "split=train|val|all",
    "dataset:<name>[+<name>...]": "the named registry data sets, e.g. dataset:letter+wine",
    "episodic:<dataset>[:<N>way<K>shot]": "N-way K-shot episodes with class-disjoint train/val/test "
    "splits from letter, penbased, optdigits or digits (default 5way1shot)",
    "folder:<path>[:target=<column>]": "every CSV/Parquet file in a folder (target column default 'target')",
    "images:<path>[:<N>way<K>shot]": "N-way K-shot episodes from an Omniglot-format image folder "
    "(root/alphabet/character/*.png, 28x28), class-disjoint train/val/test characters",
}

_DATASET_GROUPS = {
    "keel-dev": {"source": "keel"},
    "keel-balanced-dev": {"source": "keel-balanced"},
    "keel-imbalanced-dev": {"source": "keel-imbalanced"},
    "sklearn": {"source": "sklearn"},
    "dev": {"source": None},
}


def list_pools() -> dict[str, str]:
    """Pool spec patterns and what they produce (shown by ``autometa info``)."""
    return dict(_POOLS)


def _parse_weight(component: str) -> tuple[str, float]:
    if "@" not in component:
        return component, 1.0
    body, _, weight = component.rpartition("@")
    try:
        w = float(weight)
    except ValueError:
        raise ValueError(f"Mixture weight {weight!r} in {component!r} is not a number.") from None
    if not w > 0:
        raise ValueError(f"Mixture weight in {component!r} must be positive.")
    return body, w


def _episode_shape(rest: str, head: str, example: str, any_suffix: bool) -> tuple[str, int, int]:
    """Split ``"<source>[:<N>way<K>shot]"`` into the source, N and K (default 5-way 1-shot).

    With ``any_suffix`` (data-set names never hold ``:``) every ``:suffix`` must be a shape;
    otherwise (paths) only a suffix that mentions ``way`` or ``shot`` is read as one.
    """
    source, n_way, k_shot = rest, 5, 1
    body, _, shape = rest.rpartition(":")
    if body and (any_suffix or re.fullmatch(r"\w+", shape) and ("way" in shape or "shot" in shape)):
        match = re.fullmatch(r"(\d+)way(\d+)shot", shape)
        if match is None:
            raise ValueError(
                f"Episode shape {shape!r} is not of the form <N>way<K>shot, e.g. 5way1shot."
            )
        source, n_way, k_shot = body, int(match.group(1)), int(match.group(2))
    if not source:
        raise ValueError(f"Pool spec '{head}:' needs a source, e.g. {example}.")
    return source, n_way, k_shot


def _accepted(cls: type) -> set[str]:
    params = inspect.signature(cls.__init__).parameters
    return {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)} - {
        "self"
    }


def _build(cls: type, extra: dict[str, Any], *args: Any, **fixed: Any) -> TaskPool:
    """``cls(*args, **fixed, **extra)`` keeping only the ``extra`` options ``cls`` accepts."""
    accepted = _accepted(cls)
    return cls(
        *args, **fixed, **{k: v for k, v in extra.items() if k in accepted and k not in fixed}
    )


def _make_one(
    spec: str, *, d_max: int, c_max: int, split: str, seed: int, **kwargs: Any
) -> TaskPool:
    head, _, rest = spec.partition(":")
    if head == "synthetic":
        from autometa.tasks._synthetic import SyntheticPrior

        options: dict[str, Any] = {}
        if rest:
            options["kinds"] = tuple(k for k in rest.split("+") if k)
        return _build(SyntheticPrior, kwargs, d_max=d_max, c_max=c_max, **options)
    if head in _DATASET_GROUPS and not rest:
        from autometa.tasks import datasets
        from autometa.tasks._pools import DatasetPool

        names = datasets.dev_split(split, source=_DATASET_GROUPS[head]["source"], seed=seed)
        return _build(DatasetPool, kwargs, names, d_max=d_max, c_max=c_max, name=f"{head}/{split}")
    if head == "dataset":
        names = [n for n in rest.split("+") if n]
        if not names:
            raise ValueError(
                "Pool spec 'dataset:' needs at least one data-set name, e.g. dataset:letter+wine."
            )
        from autometa.tasks._pools import DatasetPool

        return _build(DatasetPool, kwargs, names, d_max=d_max, c_max=c_max)
    if head == "images":
        path, n_way, k_shot = _episode_shape(
            rest, "images", "images:/data/omniglot:5way1shot", False
        )
        from autometa.tasks._images import ImageFolderPool

        return _build(
            ImageFolderPool, kwargs, path, n_way=n_way, k_shot=k_shot, split=split, split_seed=seed
        )
    if head == "episodic":
        dataset, n_way, k_shot = _episode_shape(rest, "episodic", "episodic:letter:5way1shot", True)
        from autometa.tasks import datasets
        from autometa.tasks._episodic import _IMAGES, EpisodicPool

        width = None if datasets.resolve_name(dataset) in _IMAGES else d_max
        return _build(
            EpisodicPool,
            kwargs,
            dataset,
            n_way=n_way,
            k_shot=k_shot,
            split=split,
            split_seed=seed,
            d_max=width,
        )
    if head == "folder":
        from autometa.tasks._pools import DatasetPool

        path, target = rest, "target"
        if ":target=" in rest:
            path, _, target = rest.rpartition(":target=")
        if not path:
            raise ValueError(
                "Pool spec 'folder:' needs a path, e.g. folder:/data/tables:target=label."
            )
        return _build(
            DatasetPool, kwargs, None, folder=path, target=target, d_max=d_max, c_max=c_max
        )
    raise ValueError(f"Unknown pool {spec!r}. Known pools: {', '.join(_POOLS)}.")


def make_pool(
    spec: str,
    *,
    d_max: int = 32,
    c_max: int = 10,
    split: str = "train",
    seed: int = 0,
    **kwargs: Any,
) -> TaskPool:
    """Build a task pool from a spec string (see the module docstring for the grammar).

    Parameters
    ----------
    spec : str
        For example ``"synthetic"``, ``"keel-dev"``, ``"synthetic@0.7,keel-dev@0.3"`` or
        ``"episodic:letter:5way1shot"``.
    d_max, c_max : int
        Width of the feature axis and largest number of classes (image episodic pools use the
        image size instead of ``d_max``).
    split : {"train", "val", "all", "test"}
        Which side of the data-set (or class) partition to draw from.
    seed : int
        Seed of the partitions (data-set families for data-set pools, classes for episodic pools).
    **kwargs
        Options for the pool constructors (for example ``n_query=32``); each pool of a mixture
        receives the options its constructor accepts (``n_range`` reaches ``SyntheticPrior``,
        ``n_support_range`` reaches ``DatasetPool``), and an option no pool accepts is an error.

    Returns
    -------
    TaskPool
        A single pool, or a :class:`~autometa.tasks.MixturePool` for several components.

    Raises
    ------
    ValueError
        For an unknown or malformed spec.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(
            f"A pool spec must be a non-empty string; got {spec!r}. Known pools: {', '.join(_POOLS)}."
        )
    components = [c.strip() for c in spec.split(",") if c.strip()]
    parsed = [_parse_weight(c) for c in components]
    if kwargs:
        from autometa.tasks._episodic import EpisodicPool
        from autometa.tasks._images import ImageFolderPool
        from autometa.tasks._pools import DatasetPool
        from autometa.tasks._synthetic import SyntheticPrior

        known = set().union(
            *(_accepted(c) for c in (SyntheticPrior, DatasetPool, EpisodicPool, ImageFolderPool))
        )
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"make_pool got options no pool accepts: {unknown}.")
    pools = [
        _make_one(body, d_max=d_max, c_max=c_max, split=split, seed=seed, **kwargs)
        for body, _ in parsed
    ]
    if len(pools) == 1:
        return pools[0]
    from autometa.tasks._pools import MixturePool

    return MixturePool(pools, weights=[w for _, w in parsed])
