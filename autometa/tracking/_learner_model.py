"""Meta-learner checkpoints as MLflow models: logging, and the pickles of earlier releases.

A logged meta-learner is an MLflow ``pyfunc`` model (:class:`~autometa.tracking.MetaLearnerPyfunc`)
whose one artifact is an autometa checkpoint file. This module holds the MLflow side of that:
:func:`log_learner_checkpoint` writes the checkpoint through the callable it is given, logs the
model into a run and optionally registers it; :func:`legacy_pyfunc_class` rebuilds the class
that models logged by early releases were pickled as. The three functions that know
meta-learners (save a learner to a file, load one, adapt and predict) are handed in by
:mod:`autometa.meta`, so this module never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autometa._version import __version__

__all__ = ["ARTIFACT_NAME", "LoggedMetaLearner", "legacy_pyfunc_class", "log_learner_checkpoint"]

#: the checkpoint file inside a logged meta-learner model
ARTIFACT_NAME = "meta_learner.pt"


@dataclass(frozen=True)
class LoggedMetaLearner:
    """Where :func:`autometa.meta.log_meta_learner` put a learner.

    Attributes
    ----------
    model_uri : str
        ``runs:/<run_id>/<name>``: loads with :func:`autometa.meta.load_meta_learner` or
        ``mlflow.pyfunc.load_model``.
    run_id : str
    registered_model_name : str or None
    version : str or None
        The registry version (``models:/<registered_model_name>/<version>``), when registered.
    """

    model_uri: str
    run_id: str
    registered_model_name: str | None = None
    version: str | None = None

    @property
    def registered_model_uri(self) -> str | None:
        if self.registered_model_name is None or self.version is None:
            return None
        return f"models:/{self.registered_model_name}/{self.version}"


def log_learner_checkpoint(
    save: Callable[[Path], Path],
    loader: Callable[[str], Any],
    predictor: Callable[[Any, Any], Any],
    name: str,
    *,
    algo: str,
    metadata: Mapping[str, Any] | None = None,
    **where: Any,
) -> LoggedMetaLearner:
    """Log a checkpoint as an MLflow ``pyfunc`` model under ``name`` of a run; maybe register it.

    Parameters
    ----------
    save : callable
        ``save(path) -> path``: writes the learner's checkpoint file.
    loader, predictor : callable
        Module-level functions (pickled by name): ``loader(path) -> learner`` and
        ``predictor(learner, model_input) -> probabilities``.
    name : str
        Artifact folder of the model inside the run.
    algo : str
        The learner's registered name (model metadata).
    metadata : mapping, optional
        Stored as the model's metadata (values as strings).
    **where
        ``registered_model_name``, ``run_id``, ``tracking_uri``: see
        :func:`autometa.tracking.log_pyfunc_model`.
    """
    import torch

    from autometa.tracking._pyfunc import (  # mlflow.pyfunc is slow to import
        MetaLearnerPyfunc,
        log_pyfunc_model,
    )

    def write_artifacts(folder: Path) -> dict[str, str]:
        return {"meta_learner": str(save(folder / ARTIFACT_NAME))}

    info = log_pyfunc_model(
        MetaLearnerPyfunc(loader, predictor),
        write_artifacts,
        name,
        what="the meta-learner",
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"autometa=={__version__}"],
        metadata={"algo": str(algo), **{k: str(v) for k, v in (metadata or {}).items()}},
        **where,
    )
    return LoggedMetaLearner(info.model_uri, info.run_id, info.registered_model_name, info.version)


_LEGACY: dict[str, type] = {}


def legacy_pyfunc_class(
    module: str, loader: Callable[[str], Any], predictor: Callable[[Any, Any], Any]
) -> type:
    """The class that models logged by early releases were pickled as: ``<module>.MetaLearnerPyfunc``.

    Those pickles hold no attributes; this subclass of
    :class:`~autometa.tracking.MetaLearnerPyfunc` supplies ``loader`` and ``predictor`` as class
    attributes, so the models still load and predict. One class per ``module`` (cached).
    """
    cached = _LEGACY.get(module)
    if cached is not None:
        return cached
    from autometa.tracking._pyfunc import MetaLearnerPyfunc  # mlflow.pyfunc is slow to import

    legacy = type(
        "MetaLearnerPyfunc",
        (MetaLearnerPyfunc,),
        {
            "__module__": module,
            "__doc__": MetaLearnerPyfunc.__doc__,
            "loader": staticmethod(loader),
            "predictor": staticmethod(predictor),
        },
    )
    _LEGACY[module] = legacy
    return legacy
