"""The ``autometa`` MLflow model flavor: a fitted estimator saved, logged, loaded and served.

A model written by :func:`save_model` / :func:`log_model` is a folder with the fitted
estimator pickled (every tensor on the CPU) in ``model.pkl`` and an ``MLmodel`` file with two
flavors:

* ``autometa``: the estimator's class and the autometa version; :func:`load_model` gives the
  fitted :class:`~autometa.AutoMetaClassifier` / :class:`~autometa.AutoMetaRegressor` back;
* ``python_function`` (loader module ``autometa.mlflow``): ``mlflow.pyfunc.load_model`` and
  ``mlflow models serve`` answer ``predict(DataFrame)`` with the predictions (an array), and with the
  ``predict_method`` parameter ``"predict_proba"`` (classifiers: one ``proba_<class>`` column
  per class) or ``"predict_std"`` (regressors: ``prediction`` and ``std`` columns).

The signature (input columns and the ``predict_method`` parameter) is inferred from
``input_example``, a few rows of the training frame, which is also stored with the model.

MLflow has no plugin entry point for model flavors (its plugin groups cover stores, artifact
repositories, deployments and the like), so the flavor lives at ``autometa.mlflow``, next to
``mlflow.sklearn`` rather than inside it. ``mlflow.sklearn.log_model(clf, name=...,
serialization_format="cloudpickle")`` works as well; MLflow's default *skops* format cannot
store torch weights (see :class:`RefuseSkops`).
"""

from __future__ import annotations

import copyreg
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from autometa._version import __version__
from autometa.tracking._probe import bounded_http, probe
from autometa.tracking._quiet import quiet_mlflow

__all__ = [
    "FLAVOR_NAME",
    "PREDICT_METHODS",
    "SKOPS_MESSAGE",
    "AutoMetaPyfunc",
    "RefuseSkops",
    "load_model",
    "log_model",
    "save_model",
]

FLAVOR_NAME = "autometa"
_DATA_FILE = "model.pkl"
#: ``predict_method`` values the pyfunc model answers, by kind of estimator
PREDICT_METHODS = {
    "classifier": ("predict", "predict_proba"),
    "regressor": ("predict", "predict_std"),
}

SKOPS_MESSAGE = (
    "{name} keeps torch weights, which the skops format (the default of mlflow.sklearn.log_model) "
    "cannot store. Log it with autometa.mlflow.log_model(model, name='model', input_example=X.head()) "
    "(the autometa flavor: pyfunc, signature, `mlflow models serve`), or with "
    "mlflow.sklearn.log_model(model, name='model', serialization_format='cloudpickle')."
)


class RefuseSkops:
    """Mixin for estimators that hold torch weights: skops gets a clear error, pickle works as before.

    skops (the default format of ``mlflow.sklearn.log_model``) builds its safe format from
    ``obj.__reduce__()`` and ``__getstate__``; torch tensors cannot be rebuilt from either, and
    skops would fail deep inside with "Cannot directly construct TensorBase". ``__reduce__``
    therefore raises the error that names the working calls, while ``__reduce_ex__`` (what
    pickle, cloudpickle, ``copy`` and joblib call) returns what ``object.__reduce_ex__`` does for
    protocol 2 and above.
    """

    def __reduce__(self) -> Any:
        raise TypeError(SKOPS_MESSAGE.format(name=type(self).__name__))

    def __reduce_ex__(self, protocol: Any) -> Any:
        return copyreg.__newobj__, (type(self),), self.__getstate__()


def _kind(estimator: Any) -> str:
    return (
        "classifier"
        if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_")
        else "regressor"
    )


class AutoMetaPyfunc:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(data, params)`` of a fitted estimator.

    Parameters
    ----------
    estimator : fitted estimator
        An :class:`~autometa.AutoMetaClassifier`, :class:`~autometa.AutoMetaRegressor` (or
        any fitted scikit-learn estimator with ``predict``).
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.kind = _kind(estimator)

    def get_raw_model(self) -> Any:
        """The fitted estimator (``PyFuncModel.get_raw_model()``)."""
        return self.estimator

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> np.ndarray | pd.DataFrame:
        """Predictions for the rows of ``data`` (a DataFrame, or anything ``pd.DataFrame`` takes).

        ``params={"predict_method": ...}``: ``"predict"`` (default) gives an array of labels
        (classifiers) or means (regressors); ``"predict_proba"`` (classifiers) a DataFrame with one ``proba_<class>``
        column per class; ``"predict_std"`` (regressors) a DataFrame with ``prediction`` and
        ``std`` columns (the predictive spread, in the target's units).
        """
        X = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
        method = str((params or {}).get("predict_method", "predict"))
        allowed = PREDICT_METHODS[self.kind]
        if method not in allowed:
            raise ValueError(
                f"predict_method must be one of {list(allowed)} for this {self.kind}; got {method!r}."
            )
        est = self.estimator
        if method == "predict_proba":
            return pd.DataFrame(
                est.predict_proba(X), columns=[f"proba_{c}" for c in est.classes_], index=X.index
            )
        if method == "predict_std":
            mean, std = est.predict(X, return_std=True)
            return pd.DataFrame({"prediction": mean, "std": std}, index=X.index)
        return np.asarray(est.predict(X))


def _example_frame(input_example: Any) -> pd.DataFrame:
    return (
        input_example
        if isinstance(input_example, pd.DataFrame)
        else pd.DataFrame(np.asarray(input_example))
    )


def _signature(estimator: Any, example: pd.DataFrame | None) -> Any:
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import ParamSchema, ParamSpec

    if example is None:
        return ModelSignature(
            inputs=None,
            outputs=None,
            params=ParamSchema([ParamSpec("predict_method", "string", "predict")]),
        )
    output = AutoMetaPyfunc(estimator).predict(example)
    return infer_signature(example, output, params={"predict_method": "predict"})


def _requirements() -> list[str]:
    import sklearn
    import torch

    return [
        f"autometa=={__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
        f"scikit-learn=={sklearn.__version__}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]


def save_model(
    estimator: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    signature: Any = None,
    pip_requirements: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    mlflow_model: Any = None,
) -> None:
    """Save a fitted estimator as an MLflow model folder with the ``autometa`` and pyfunc flavors.

    Parameters
    ----------
    estimator : fitted estimator
        Usually an :class:`~autometa.AutoMetaClassifier` or :class:`~autometa.AutoMetaRegressor`.
    path : path-like
        A folder that does not exist yet.
    input_example : DataFrame, optional
        A few rows as the estimator was fitted on (e.g. ``X.head()``): stored with the model,
        and the signature's input schema is inferred from it.
    signature : mlflow.models.ModelSignature, optional
        Instead of the inferred one.
    pip_requirements : list of str, optional
        Default: this autometa, torch, scikit-learn, pandas and numpy, pinned.
    metadata : dict, optional
        Stored in the ``MLmodel`` file.
    mlflow_model : mlflow.models.Model, optional
        The model being logged (passed by :func:`log_model` through ``Model.log``).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    """
    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.models.utils import _save_example
    from mlflow.utils.environment import _mlflow_conda_env, _PythonEnv
    from mlflow.utils.model_utils import _validate_and_prepare_target_save_path
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator)
    path = Path(path)
    _validate_and_prepare_target_save_path(str(path))
    mlflow_model = Model() if mlflow_model is None else mlflow_model
    example = None if input_example is None else _example_frame(input_example)
    if example is not None:
        _save_example(mlflow_model, example, str(path))
    mlflow_model.signature = signature if signature is not None else _signature(estimator, example)
    kind = _kind(estimator)
    mlflow_model.metadata = {
        "estimator": type(estimator).__name__,
        "kind": kind,
        **(metadata or {}),
    }
    with (path / _DATA_FILE).open("wb") as fh:
        pickle.dump(estimator, fh, protocol=pickle.HIGHEST_PROTOCOL)
    requirements = list(pip_requirements) if pip_requirements is not None else _requirements()
    (path / "requirements.txt").write_text("\n".join(requirements) + "\n")
    (path / "conda.yaml").write_text(
        yaml.safe_dump(
            _mlflow_conda_env(additional_pip_deps=requirements), default_flow_style=False
        )
    )
    _PythonEnv.current().to_yaml(str(path / "python_env.yaml"))
    mlflow.pyfunc.add_to_model(mlflow_model, loader_module="autometa.mlflow", data=_DATA_FILE,
                               conda_env="conda.yaml", python_env="python_env.yaml")  # fmt: skip
    mlflow_model.add_flavor(
        FLAVOR_NAME,
        data=_DATA_FILE,
        autometa_version=__version__,
        estimator=f"{type(estimator).__module__}.{type(estimator).__qualname__}",
        kind=kind,
        predict_methods=list(PREDICT_METHODS[kind]),
    )
    mlflow_model.save(str(path / "MLmodel"))


def log_model(
    estimator: Any,
    name: str = "model",
    *,
    input_example: Any = None,
    signature: Any = None,
    registered_model_name: str | None = None,
    pip_requirements: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Any:
    """Log a fitted estimator as an MLflow model (``autometa`` + pyfunc flavors) in the active run.

    Opens a run when none is active (as ``mlflow.sklearn.log_model`` does). The parameters are
    those of :func:`save_model`, plus:

    Parameters
    ----------
    name : str
        The model's name inside the run: ``runs:/<run_id>/<name>``.
    registered_model_name : str, optional
        Also register it in the model registry (a new version when the name exists).

    Returns
    -------
    mlflow.models.model.ModelInfo
        ``.model_uri`` loads with :func:`load_model`, ``mlflow.pyfunc.load_model`` and
        ``mlflow models serve -m``.

    Raises
    ------
    ValueError
        If the tracking server is unreachable (one short probe, no minutes of retries).

    Examples
    --------
    >>> import autometa.mlflow                                              # doctest: +SKIP
    >>> info = autometa.mlflow.log_model(clf, name="model", input_example=X.head())  # doctest: +SKIP
    >>> autometa.mlflow.load_model(info.model_uri).predict_proba(X_test)   # doctest: +SKIP
    """
    import mlflow
    from mlflow.models import Model

    unreachable = probe(mlflow.get_tracking_uri())
    if unreachable:
        raise ValueError(
            f"Cannot log the model: the MLflow tracking server is unreachable ({unreachable})."
        )
    with quiet_mlflow(), bounded_http():
        return Model.log(
            artifact_path=None,
            name=name,
            flavor=sys.modules[__name__],  # MLflow calls its save_model (defined here)
            flavor_name=FLAVOR_NAME,
            registered_model_name=registered_model_name,
            estimator=estimator,
            input_example=input_example,
            signature=signature,
            pip_requirements=pip_requirements,
            metadata=metadata,
        )


def _read(model_dir: Path) -> Any:
    from mlflow.environment_variables import MLFLOW_ALLOW_PICKLE_DESERIALIZATION

    if not MLFLOW_ALLOW_PICKLE_DESERIALIZATION.get():
        raise ValueError(
            "Loading an autometa model unpickles it, and MLFLOW_ALLOW_PICKLE_DESERIALIZATION is "
            "'false'. Load models from trusted sources only; set it to 'true' to allow loading."
        )
    with (model_dir / _DATA_FILE).open("rb") as fh:
        return pickle.load(fh)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The fitted estimator behind a model saved or logged with the ``autometa`` flavor.

    Parameters
    ----------
    model_uri : str
        ``runs:/<run_id>/<name>``, ``models:/<name>/<version>``, a local folder, or any MLflow
        artifact URI.
    dst_path : str, optional
        Where to download the model (default: a temporary folder).

    Raises
    ------
    ValueError
        If the tracking server is unreachable, or the model has no ``autometa`` flavor (it
        names the flavors it has).
    """
    import mlflow
    from mlflow.models import Model
    from mlflow.tracking.artifact_utils import _download_artifact_from_uri

    if model_uri.startswith(("models:/", "runs:/")):
        unreachable = probe(mlflow.get_tracking_uri())
        if unreachable:
            raise ValueError(
                f"Cannot load {model_uri!r}: the MLflow tracking server is unreachable ({unreachable})."
            )
    with quiet_mlflow(), bounded_http():
        local = Path(_download_artifact_from_uri(model_uri, output_path=dst_path))
    flavors = Model.load(str(local / "MLmodel")).flavors
    if FLAVOR_NAME not in flavors:
        raise ValueError(
            f"{model_uri} has no autometa flavor (its flavors: {', '.join(sorted(flavors))}); "
            "load it with mlflow.pyfunc.load_model, or log the estimator with autometa.mlflow.log_model."
        )
    return _read(local)


def _load_pyfunc(path: str) -> AutoMetaPyfunc:
    """Called by ``mlflow.pyfunc.load_model`` with the model's data file (or folder)."""
    p = Path(path)
    return AutoMetaPyfunc(_read(p.parent if p.is_file() else p))
