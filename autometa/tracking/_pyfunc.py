"""MLflow ``pyfunc`` models: a fitted classifier, and a meta-learner checkpoint.

**Classifiers.** The fitted classifier is pickled (it keeps every tensor on the CPU) as the model's only
artifact; :class:`ClassifierPyfunc` unpickles it in ``load_context`` and answers
``predict(DataFrame)`` with the predicted labels, or with one probability column per class
when called with ``params={"predict_method": "predict_proba"}``. The model can then be
registered and served like any MLflow model (``mlflow models serve -m models:/<name>/<v>``).

Examples
--------
>>> import mlflow                                                            # doctest: +SKIP
>>> from autometa.tracking._pyfunc import log_classifier, load_classifier    # doctest: +SKIP
>>> with mlflow.start_run():                                                 # doctest: +SKIP
...     info = log_classifier(clf, name="classifier", registered_model_name="wine")
>>> mlflow.pyfunc.load_model("models:/wine/1").predict(X_test)               # doctest: +SKIP
>>> load_classifier("models:/wine/1").predict_proba(X_test)                  # doctest: +SKIP

**Meta-learners.** :class:`MetaLearnerPyfunc` serves a meta-learner checkpoint: its
``predict`` adapts to a support set and answers query class probabilities. It holds the two
functions that know meta-learners (load a checkpoint file; adapt and predict), handed in by
:func:`autometa.meta.log_meta_learner`, so this module never imports :mod:`autometa.meta`.
:func:`log_pyfunc_model` logs such a model (the checkpoint as its artifact) into a run and
optionally registers it.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from autometa._version import __version__
from autometa.tracking._probe import bounded_http, probe
from autometa.tracking._quiet import quiet_mlflow

__all__ = [
    "ClassifierPyfunc",
    "LoggedModel",
    "MetaLearnerPyfunc",
    "load_classifier",
    "log_classifier",
    "log_pyfunc_model",
]

_ARTIFACT = "classifier"


# MLflow warns on stderr, at class creation, that ``predict`` has no type hints (deliberate: it
# would read them as a schema); keep that off the user's terminal.
with quiet_mlflow():

    class ClassifierPyfunc(mlflow.pyfunc.PythonModel):
        """``mlflow.pyfunc`` adapter around a fitted scikit-learn classifier."""

        def __init__(self) -> None:
            self.classifier: Any = None

        def load_context(self, context: Any) -> None:
            path = Path(context.artifacts[_ARTIFACT])
            with path.open("rb") as fh:
                self.classifier = pickle.load(fh)

        def predict(self, context, model_input, params=None):  # no type hints: MLflow reads them as a schema
            """Labels (a Series named ``prediction``) or, with ``predict_method="predict_proba"``,
            a DataFrame with one ``proba_<class>`` column per class."""
            method = (params or {}).get("predict_method", "predict")
            if method == "predict":
                return pd.Series(self.classifier.predict(model_input), name="prediction")
            if method == "predict_proba":
                proba = self.classifier.predict_proba(model_input)
                return pd.DataFrame(proba, columns=[f"proba_{c}" for c in self.classifier.classes_])
            raise ValueError(f"predict_method must be 'predict' or 'predict_proba'; got {method!r}.")

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

        def __init__(self, loader: Callable[[str], Any], predictor: Callable[[Any, Any], Any]) -> None:
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
        raise ValueError(f"Cannot log {what}: the MLflow tracking server is unreachable ({unreachable}).")
    with quiet_mlflow(), bounded_http():
        return _log_pyfunc_model(
            python_model, write_artifacts, name, pip_requirements, metadata, registered_model_name, run_id, tracking_uri
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
    from mlflow.tracking import MlflowClient

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
    """Log a fitted classifier as an MLflow pyfunc model in the active run (or a new one).

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
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(classifier)
    import sklearn
    import torch


    with tempfile.TemporaryDirectory(prefix="autometa-classifier-") as tmp:
        path = Path(tmp) / "classifier.pkl"
        with path.open("wb") as fh:
            pickle.dump(classifier, fh)
        from mlflow.models import ModelSignature, infer_signature
        from mlflow.types.schema import ParamSchema, ParamSpec

        params = ParamSchema([ParamSpec("predict_method", "string", "predict")])
        signature, example = ModelSignature(inputs=None, outputs=None, params=params), None
        if input_example is not None:
            example = input_example if isinstance(input_example, pd.DataFrame) else pd.DataFrame(np.asarray(input_example))
            signature = infer_signature(example, pd.Series(classifier.predict(example), name="prediction"),
                                        params={"predict_method": "predict"})  # fmt: skip
        with quiet_mlflow(), bounded_http():
            return mlflow.pyfunc.log_model(
                name=name,
                python_model=ClassifierPyfunc(),
                artifacts={_ARTIFACT: str(path)},
                registered_model_name=registered_model_name,
                signature=signature,
                input_example=example,
                pip_requirements=[
                    f"autometa=={__version__}",
                    f"torch=={torch.__version__.split('+')[0]}",
                    f"scikit-learn=={sklearn.__version__}",
                ],
                metadata={"estimator": type(classifier).__name__},
            )


def load_classifier(model_uri: str) -> Any:
    """Load the fitted classifier behind a model logged with :func:`log_classifier`.

    Raises
    ------
    ValueError
        If the tracking server behind a ``models:/`` or ``runs:/`` URI is unreachable (one
        short probe, no retries), or the model is not a classifier logged by autometa.
    """
    if model_uri.startswith(("models:/", "runs:/")):
        unreachable = probe(mlflow.get_tracking_uri())
        if unreachable:
            raise ValueError(f"Cannot load {model_uri!r}: the MLflow tracking server is unreachable ({unreachable}).")
    with quiet_mlflow(), bounded_http():
        model = mlflow.pyfunc.load_model(model_uri)
    inner = model.unwrap_python_model()
    if not isinstance(inner, ClassifierPyfunc):
        raise ValueError(f"{model_uri} is not a classifier logged with autometa.tracking.log_classifier.")
    return inner.classifier
