"""MLflow ``pyfunc`` models: a fitted classifier, and a meta-learner checkpoint.

**Classifiers.** :func:`log_classifier` / :func:`load_classifier` are the classifier-shaped
names of the ``autometa`` flavor (:mod:`autometa.mlflow`): the fitted estimator is logged with
a pyfunc flavor, a signature and an input example, and served with ``mlflow models serve``.

**Meta-learners.** :class:`MetaLearnerPyfunc` serves a meta-learner checkpoint: its
``predict`` adapts to a support set and answers query class probabilities. It holds the two
functions that know meta-learners (load a checkpoint file; adapt and predict), handed in by
:func:`autometa.meta.log_meta_learner`, so this module never imports :mod:`autometa.meta`.
:func:`log_pyfunc_model` logs such a model (the checkpoint as its artifact) into a run and
optionally registers it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
from mlflow.tracking import MlflowClient

from autometa.tracking._probe import bounded_http, probe
from autometa.tracking._quiet import quiet_mlflow

__all__ = [
    "LoggedModel",
    "MetaLearnerPyfunc",
    "load_classifier",
    "log_classifier",
    "log_pyfunc_model",
]

# MLflow warns on stderr, at class creation, about type hints of ``predict``; keep that off the
# user's terminal.
with quiet_mlflow():

    class MetaLearnerPyfunc(mlflow.pyfunc.PythonModel):
        """MLflow ``pyfunc`` wrapper: adapt to a support set, return query class probabilities.

        ``predict`` takes a dict with ``x_support`` ``[n, d]``, ``y_support`` ``[n]`` (ints in
        ``range(n_classes)``), ``x_query`` ``[m, d]`` (``d <= d_max``, already encoded) and
        returns an ``[m, n_classes]`` array of probabilities.

        Parameters
        ----------
        loader : callable
            ``loader(path) -> learner``: reads the ``meta_learner`` artifact. A module-level
            function, so that the pickled model refers to it by name.
        predictor : callable
            ``predictor(learner, model_input) -> probabilities``.
        """

        loader: Callable[[str], Any] | None = None
        predictor: Callable[[Any, Any], Any] | None = None

        def __init__(
            self, loader: Callable[[str], Any], predictor: Callable[[Any, Any], Any]
        ) -> None:
            self.loader, self.predictor = loader, predictor
            self.learner: Any = None

        def load_context(self, context: Any) -> None:
            assert self.loader is not None
            self.learner = self.loader(context.artifacts["meta_learner"])

        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            assert self.predictor is not None
            return self.predictor(self.learner, model_input)


@dataclass(frozen=True)
class LoggedModel:
    """Where :func:`log_pyfunc_model` put a model: ``runs:/<run_id>/<name>`` and its registry version."""

    model_uri: str
    run_id: str
    registered_model_name: str | None = None
    version: str | None = None


def log_pyfunc_model(
    python_model: Any,
    write_artifacts: Callable[[Path], Mapping[str, str]],
    name: str,
    *,
    what: str,
    pip_requirements: Sequence[str],
    metadata: Mapping[str, str],
    registered_model_name: str | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
) -> LoggedModel:
    """Save ``python_model`` as a pyfunc model, log it into a run under ``name``, maybe register it.

    Parameters
    ----------
    python_model : mlflow.pyfunc.PythonModel
    write_artifacts : callable
        ``write_artifacts(folder) -> {key: path}``: writes the model's files into a temporary
        folder (called once the run is open).
    name : str
        Artifact folder of the model inside the run.
    what : str
        What is logged, for the error when the store is unreachable.
    pip_requirements, metadata
        Passed to :func:`mlflow.pyfunc.save_model`.
    registered_model_name : str, optional
        Also register the model under this name (a new version when the name exists).
    run_id : str, optional
        Log into this run; by default the active run, else a new run (ended here).
    tracking_uri : str, optional
        The store of ``run_id``; by default the MLflow client's current tracking URI.

    Raises
    ------
    ValueError
        If the tracking server is unreachable (one short probe, no retries).
    """
    unreachable = probe(tracking_uri or mlflow.get_tracking_uri())
    if unreachable:
        raise ValueError(
            f"Cannot log {what}: the MLflow tracking server is unreachable ({unreachable})."
        )
    with quiet_mlflow(), bounded_http():
        return _log_pyfunc_model(
            python_model,
            write_artifacts,
            name,
            pip_requirements,
            metadata,
            registered_model_name,
            run_id,
            tracking_uri,
        )


def _log_pyfunc_model(
    python_model: Any,
    write_artifacts: Callable[[Path], Mapping[str, str]],
    name: str,
    pip_requirements: Sequence[str],
    metadata: Mapping[str, str],
    registered_model_name: str | None,
    run_id: str | None,
    tracking_uri: str | None,
) -> LoggedModel:
    own_run = False
    if run_id is None:
        active = mlflow.active_run()
        if active is None:
            active, own_run = mlflow.start_run(), True
        run_id = active.info.run_id
        tracking_uri = tracking_uri or mlflow.get_tracking_uri()
    tracking_uri = tracking_uri or mlflow.get_tracking_uri()
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        with tempfile.TemporaryDirectory(prefix="autometa-model-") as tmp:
            artifacts = dict(write_artifacts(Path(tmp)))
            model_dir = Path(tmp) / "model"
            mlflow.pyfunc.save_model(
                path=str(model_dir),
                python_model=python_model,
                artifacts=artifacts,
                pip_requirements=list(pip_requirements),
                metadata=dict(metadata),
            )
            client.log_artifacts(run_id, str(model_dir), name)
        version = None
        if registered_model_name is not None:
            try:
                client.get_registered_model(registered_model_name)
            except Exception:  # noqa: BLE001 - "does not exist" is an MlflowException
                client.create_registered_model(registered_model_name)
            source = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{name}"
            mv = client.create_model_version(registered_model_name, source=source, run_id=run_id)
            version = str(mv.version)
    finally:
        if own_run:
            mlflow.end_run()
    return LoggedModel(f"runs:/{run_id}/{name}", run_id, registered_model_name, version)


def log_classifier(
    classifier: Any,
    name: str = "classifier",
    *,
    registered_model_name: str | None = None,
    input_example: Any = None,
) -> Any:
    """Log a fitted classifier as an MLflow model in the active run (or a new one).

    The same as :func:`autometa.mlflow.log_model` (the ``autometa`` flavor, with its pyfunc
    flavor), under the name ``classifier`` by default.

    Parameters
    ----------
    classifier : fitted estimator
        Usually an :class:`~autometa.estimators.AutoMetaClassifier`.
    name : str
        Model name inside the run (``runs:/<run_id>/<name>``).
    registered_model_name : str, optional
        Also register it in the model registry.
    input_example : DataFrame, optional
        A few input rows; MLflow infers the signature from them.

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    from autometa.tracking._flavor import log_model

    return log_model(
        classifier, name, registered_model_name=registered_model_name, input_example=input_example
    )


def load_classifier(model_uri: str) -> Any:
    """Load the fitted classifier behind a model logged with :func:`log_classifier`.

    Raises
    ------
    ValueError
        If the tracking server behind a ``models:/`` or ``runs:/`` URI is unreachable (one
        short probe, no retries), or the model is not a classifier logged by autometa.
    """
    from autometa.tracking._flavor import load_model

    try:
        estimator = load_model(model_uri)
    except ValueError as exc:
        if "unreachable" in str(exc):
            raise
        raise ValueError(
            f"{model_uri} is not a classifier logged with autometa.tracking.log_classifier ({exc})."
        ) from exc
    if not hasattr(estimator, "predict_proba"):
        raise ValueError(
            f"{model_uri} is not a classifier logged with autometa.tracking.log_classifier."
        )
    return estimator
