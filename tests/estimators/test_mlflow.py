"""MLflow round trips: a registered meta-learner drives the classifier; a fitted classifier is a pyfunc model."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd

from autometa.estimators import AutoMetaClassifier, load_classifier_meta_learner

FAST = {"members": ["neural", "lr"], "n_ensemble": 2, "blend": "uniform"}


def test_meta_learner_from_a_registered_mlflow_model(tracking_uri, mixed_frame):
    from autometa.meta import log_meta_learner

    mlflow.set_tracking_uri(tracking_uri)
    shipped = load_classifier_meta_learner("default")
    with mlflow.start_run() as run:
        log_meta_learner(shipped, name="meta_learner", registered_model_name="amc-test-learner")
    X, y = mixed_frame
    reference = AutoMetaClassifier(random_state=0, **FAST).fit(X, y).predict_proba(X)
    for uri in ("models:/amc-test-learner/1", f"runs:/{run.info.run_id}/meta_learner"):
        clf = AutoMetaClassifier(meta_learner=uri, random_state=0, **FAST).fit(X, y)
        np.testing.assert_allclose(clf.predict_proba(X), reference, rtol=0, atol=1e-12)


def test_fitted_classifier_as_pyfunc_model(tracking_uri, mixed_frame):
    from autometa.tracking._pyfunc import load_classifier, log_classifier

    mlflow.set_tracking_uri(tracking_uri)
    X, y = mixed_frame
    clf = AutoMetaClassifier(random_state=0, **FAST).fit(X, y)
    with mlflow.start_run():
        info = log_classifier(clf, name="classifier", registered_model_name="amc-test-classifier")
    model = mlflow.pyfunc.load_model("models:/amc-test-classifier/1")
    labels = model.predict(X)
    np.testing.assert_array_equal(np.asarray(labels), clf.predict(X))
    proba = model.predict(X, params={"predict_method": "predict_proba"})
    assert isinstance(proba, pd.DataFrame) and list(proba.columns) == ["proba_no", "proba_yes"]
    np.testing.assert_allclose(proba.to_numpy(), clf.predict_proba(X))
    again = load_classifier(info.model_uri)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X))
