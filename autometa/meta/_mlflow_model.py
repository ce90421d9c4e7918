"""Log a meta-learner as an MLflow ``pyfunc`` model (its checkpoint is the model's artifact).

The MLflow side (the pyfunc wrapper, pip requirements, the model registry) lives in
:mod:`autometa.tracking`; this module hands it the three functions that know meta-learners:
save a checkpoint (:func:`~autometa.meta.save_meta_learner`), load one
(:func:`~autometa.meta.load_meta_learner`) and adapt-then-predict
(:func:`~autometa.meta._base.predict_proba`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autometa.meta._base import MetaLearner, predict_proba
from autometa.meta._checkpoint import load_meta_learner, save_meta_learner
from autometa.tracking._learner_model import LoggedMetaLearner, log_learner_checkpoint

__all__ = ["LoggedMetaLearner", "log_meta_learner"]


def log_meta_learner(
    learner: MetaLearner,
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
) -> LoggedMetaLearner:
    """Log ``learner`` as an MLflow ``pyfunc`` model (the checkpoint is its artifact).

    Parameters
    ----------
    learner : MetaLearner
    name : str
        Artifact folder of the model inside the run; load it back with
        ``load_meta_learner("runs:/<run_id>/<name>")`` or, when registered, with
        ``load_meta_learner("models:/<registered_model_name>/<version>")``.
    registered_model_name : str, optional
        Also register the model in the MLflow model registry under this name (a new version
        of it when the name exists).
    metadata : mapping, optional
        Stored in the checkpoint and as the model's metadata.
    run_id : str, optional
        Log into this existing run; by default the active MLflow run, else a new run.
    tracking_uri : str, optional
        The store of ``run_id``; by default the MLflow client's current tracking URI.

    Returns
    -------
    LoggedMetaLearner
        The model URI, and the registry version when registered.

    Notes
    -----
    The pyfunc flavour's ``predict`` takes ``{"x_support", "y_support", "x_query"}`` (already
    encoded features, width at most ``d_max``) and returns query class probabilities.
    """

    def save(path: Path) -> Path:
        return save_meta_learner(learner, path, metadata=metadata)

    return log_learner_checkpoint(
        save,
        load_meta_learner,
        predict_proba,
        name,
        algo=str(getattr(learner, "algo", None)),
        metadata=metadata,
        registered_model_name=registered_model_name,
        run_id=run_id,
        tracking_uri=tracking_uri,
    )
