"""The ``autometa`` MLflow flavor: ``autometa.mlflow.log_model`` / ``load_model`` / ``save_model``.

A fitted :class:`~autometa.AutoMetaClassifier` or :class:`~autometa.AutoMetaRegressor` is
logged with a pyfunc flavor, a signature and an input example, so ``mlflow.pyfunc.load_model``
and ``mlflow models serve`` work on it; :func:`load_model` returns the fitted estimator.

Examples
--------
>>> import autometa.mlflow                                                       # doctest: +SKIP
>>> with mlflow.start_run():                                                     # doctest: +SKIP
...     info = autometa.mlflow.log_model(clf, name="model", input_example=X.head())
>>> autometa.mlflow.load_model(info.model_uri).predict_proba(X_test)            # doctest: +SKIP
>>> mlflow.pyfunc.load_model(info.model_uri).predict(X_test, params={"predict_method": "predict_proba"})  # doctest: +SKIP

The implementation is :mod:`autometa.tracking._flavor`; this module is the flavor's public
name and the ``loader_module`` that MLflow imports when it loads the pyfunc flavor.
"""

from __future__ import annotations

from autometa.tracking._flavor import (
    FLAVOR_NAME,
    PREDICT_METHODS,
    AutoMetaPyfunc,
    load_model,
    log_model,
    save_model,
)
from autometa.tracking._flavor import (
    _load_pyfunc as _load_pyfunc,  # MLflow calls autometa.mlflow._load_pyfunc(path)
)

__all__ = [
    "FLAVOR_NAME",
    "PREDICT_METHODS",
    "AutoMetaPyfunc",
    "load_model",
    "log_model",
    "save_model",
]
