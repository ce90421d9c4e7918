"""Every learner and blend the estimators ship, loaded one way: :func:`load_shipped`.

:data:`SHIPPED` lists each file under ``autometa/checkpoints`` that an estimator reads, with
the command that rebuilds it and the check its contents must pass. :func:`load_shipped` reads
one of them by name; :func:`load_learner` reads what a user passes instead (``"default"`` for
the shipped file, a checkpoint path or folder, an MLflow URI, or a learner object, which is
checked but not copied). Both share one per-process cache, keyed by the file and its
modification time, so a file rewritten on disk is read again.

A shipped file that is missing raises :class:`FileNotFoundError` naming the file and the
command that rebuilds it; nothing here returns ``None`` in its place.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autometa.estimators._neural import learner_dims
from autometa.estimators._portfolio import Portfolio
from autometa.estimators._regression_meta import REGRESSION_META_FEATURES

__all__ = ["CHECKPOINTS", "SHIPPED", "Shipped", "load_learner", "load_shipped", "shipped_path"]

#: the folder of the shipped files
CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


@dataclass(frozen=True)
class Shipped:
    """One shipped file.

    Attributes
    ----------
    file : str
        Its name under :data:`CHECKPOINTS`.
    what : str
        What it is, for messages.
    rebuild : str
        The command that writes it again.
    read : callable
        ``read(source) -> object``: reads a file (or MLflow URI) of this kind.
    check : callable
        ``check(obj, source) -> obj``: raises ``ValueError`` when ``obj`` cannot serve.
    """

    file: str
    what: str
    rebuild: str
    read: Callable[[str], Any]
    check: Callable[[Any, str], Any]

    @property
    def path(self) -> Path:
        return CHECKPOINTS / self.file


def _read_learner(source: str) -> Any:
    """The learner in a checkpoint, on the CPU, in eval mode and frozen (it is shared by every fit)."""
    from autometa.meta._checkpoint import load_meta_learner  # deferred: torch

    learner = load_meta_learner(source, map_location="cpu")
    learner.requires_grad_(False)
    return learner.eval()


def _check_tabular_gradient(learner: Any, source: str) -> Any:
    net = getattr(learner, "net", None) or getattr(getattr(learner, "base", None), "net", None)
    net_kind = getattr(net, "get_config", lambda: {})().get("kind")
    try:
        learner_dims(learner)
    except ValueError:
        net_kind = None
    if not all(hasattr(learner, a) for a in ("adapt", "predict")) or net_kind != "mlp":
        raise ValueError(
            f"The meta-learner in {source} ({type(learner).__name__}, base net {net_kind!r}) cannot drive "
            "AutoMetaClassifier's neural members: it needs a learner over the tabular 'mlp' base net "
            "(MAML, FOMAML, Meta-SGD, ANIL, Reptile, Meta-LSTM, HyperNet-MAML, or one of them wrapped "
            "in an AugmentedLearner). Pass another checkpoint or members=[...] without it."
        )
    return learner


def _check_type(*names: str, algo: str, exclude: tuple[str, ...] = ()) -> Callable[[Any, str], Any]:
    """A check that the learner is one of the ``autometa.meta`` classes ``names`` (and none of ``exclude``)."""

    def check(learner: Any, source: str) -> Any:
        from autometa import meta  # deferred: torch

        kinds, other = (tuple(getattr(meta, n) for n in group) for group in (names, exclude))
        if not isinstance(learner, kinds) or isinstance(learner, other):
            article = "an" if names[0][0] in "AEIOU" else "a"
            raise ValueError(
                f"{source} holds a {type(learner).__name__}, not {article} {' or '.join(names)}; this "
                f"member needs a checkpoint written for algo {algo}."
            )
        return learner

    return check


def _read_portfolio(source: str) -> Any:
    return Portfolio.load(source)


def _read_json(source: str) -> Any:
    return json.loads(Path(source).read_text())


def _read_regressor_portfolio(source: str) -> Any:
    """The regressor's blend file, its meta-feature ``prior`` (when present) as a :class:`Portfolio`."""
    payload = _read_json(source)
    if "prior" in payload:
        payload["prior"] = Portfolio.from_dict(
            payload["prior"], source=source, kind="regressor", feature_names=REGRESSION_META_FEATURES,
            command="python -m autometa.estimators.train_regressor",
        )  # fmt: skip
    return payload


def _as_is(obj: Any, source: str) -> Any:
    return obj


_TRAIN_DEFAULT = "python -m autometa.estimators.train_default"
#: every shipped file an estimator reads, by name
SHIPPED: dict[str, Shipped] = {
    "classifier_neural": Shipped(
        "classifier_default.pt", "meta-learner of the classifier's 'neural' member",
        f"{_TRAIN_DEFAULT} --stage neural", _read_learner, _check_tabular_gradient,
    ),
    "classifier_hypernet": Shipped(
        "classifier_hypernet.pt", "meta-learner of the classifier's 'hypernet' member",
        f"{_TRAIN_DEFAULT} --stage hypernet", _read_learner, _check_tabular_gradient,
    ),
    "classifier_in_context": Shipped(
        "classifier_in_context.pt", "in-context learner of the classifier's 'icl' member",
        "autometa meta-train --preset in-context --ship", _read_learner,
        _check_type("InContextLearner", "InContextTTA", "InContextV2",
                    algo="'in-context', 'in-context-tta' or 'in-context-v2'",
                    exclude=("InContextRegressionLearner", "InContextRegressionV2")),
    ),
    "classifier_portfolio": Shipped(
        "classifier_portfolio.json", "classifier's meta-learned blend weights",
        f"{_TRAIN_DEFAULT} --stage portfolio", _read_portfolio, _as_is,
    ),
    "regressor_in_context": Shipped(
        "regressor_in_context.pt", "in-context learner of the regressor's 'icl' member",
        "autometa meta-train --preset in-context-regression --ship", _read_learner,
        _check_type("InContextRegressionLearner", "InContextRegressionV2",
                    algo="'in-context-regression' or 'in-context-regression-v2'"),
    ),
    "regressor_maml": Shipped(
        "regressor_maml.pt", "MAML net of the regressor's 'maml' member",
        "python -m autometa.estimators.train_maml_regressor", _read_learner,
        _check_type("MAMLRegression", algo="'maml-regression'"),
    ),
    "regressor_portfolio": Shipped(
        "regressor_portfolio.json", "regressor's meta-learned prior, combiner n0, spread model and target margin",
        "python -m autometa.estimators.train_regressor", _read_regressor_portfolio, _as_is,
    ),
    "classifier_combiner": Shipped(
        "classifier_combiner.json", "the classifier combiner's meta-learned n0",
        "python -m autometa.estimators.train_combiner", _read_json, _as_is,
    ),
}  # fmt: skip
_CACHE: dict[tuple[str, str], tuple[float, Any]] = {}
_LOCK = threading.Lock()


def shipped_path(name: str) -> Path:
    """Where the shipped file ``name`` (a key of :data:`SHIPPED`) lives."""
    return _entry(name).path


def _entry(name: str) -> Shipped:
    if name not in SHIPPED:
        raise KeyError(
            f"No shipped file is called {name!r}; the shipped ones are {sorted(SHIPPED)}."
        )
    return SHIPPED[name]


def _cached(name: str, source: str) -> Any:
    entry = _entry(name)
    path = Path(source)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    key = (name, source)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] == mtime:
            return hit[1]
    obj = entry.check(entry.read(source), source)
    with _LOCK:
        _CACHE[key] = (mtime, obj)
    return obj


def load_shipped(name: str) -> Any:
    """The shipped learner or blend ``name``, read once per process and file version.

    Parameters
    ----------
    name : str
        A key of :data:`SHIPPED`: ``"classifier_neural"``, ``"classifier_hypernet"``,
        ``"classifier_in_context"``, ``"classifier_portfolio"``, ``"regressor_in_context"``,
        ``"regressor_maml"`` or ``"regressor_portfolio"``.

    Raises
    ------
    FileNotFoundError
        When the file is missing from this installation; the message names it and the
        command that rebuilds it.
    ValueError
        When the file is damaged or holds something else.
    """
    entry = _entry(name)
    if not entry.path.is_file():
        raise FileNotFoundError(
            f"The shipped {entry.what} ({entry.path}) is missing from this installation; reinstall "
            f"autometa or rebuild it with `{entry.rebuild}`."
        )
    return _cached(name, str(entry.path))


def load_learner(source: Any, name: str) -> Any:
    """What a learner parameter names: ``"default"``, a path or MLflow URI, or a learner object.

    Parameters
    ----------
    source : "default", str, path-like or learner
        ``"default"``: :func:`load_shipped` ``(name)``; a checkpoint file or folder, or an MLflow
        URI (``models:/<name>/<version>``, ``runs:/<run_id>/<path>``): read and cached like the
        shipped file; a learner object: checked and returned as it is.
    name : str
        The key of :data:`SHIPPED` whose kind ``source`` must be.

    Raises
    ------
    FileNotFoundError
        When a path does not exist (or the shipped file is missing).
    ValueError
        When what ``source`` holds cannot serve as ``name``'s kind.
    """
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "default":
            return load_shipped(name)
        return _cached(name, os.fspath(source))
    return _entry(name).check(source, f"the {type(source).__name__} passed")
