"""Log a fitted :class:`~autometa.estimators.AutoMetaClassifier` as an MLflow ``pyfunc`` model.

The fitted classifier is pickled (it keeps every tensor on the CPU) as the model's only
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
"""

from __future__ import annotations

import pickle
import tempfile
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from autometa.tracking._probe import bounded_http, probe
from autometa.tracking._quiet import quiet_mlflow

__all__ = ["ClassifierPyfunc", "load_classifier", "log_classifier"]

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

    from autometa._version import __version__

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
