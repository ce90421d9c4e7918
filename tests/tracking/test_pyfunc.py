"""``autometa.tracking._pyfunc``: the pyfunc wrappers and logging, on a temporary MLflow store."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from autometa.tracking import (
    LoggedModel,
    MetaLearnerPyfunc,
    load_classifier,
    log_classifier,
    log_pyfunc_model,
)


@pytest.fixture
def tracking_uri(tracking_uri: str) -> str:
    """The conftest's fresh store, made current with an experiment of its own.

    An earlier test's ``mlflow.set_experiment`` leaves its experiment id active in the process;
    a run opened in a fresh store would look for that id there and fail.
    """
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("tracking-pyfunc-test")
    return tracking_uri


def _load_weights(path: str) -> np.ndarray:
    return np.asarray(json.loads(Path(path).read_text()))


def _softmax_predict(weights: np.ndarray, model_input) -> np.ndarray:
    logits = np.asarray(model_input["x_query"]) @ weights
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _writer(weights: np.ndarray):
    def write(folder: Path) -> dict[str, str]:
        path = folder / "weights.json"
        path.write_text(json.dumps(weights.tolist()))
        return {"meta_learner": str(path)}

    return write


def _log(weights: np.ndarray, **kw) -> LoggedModel:
    return log_pyfunc_model(
        MetaLearnerPyfunc(_load_weights, _softmax_predict),
        _writer(weights),
        "model",
        what="the test model",
        pip_requirements=["numpy"],
        metadata={"kind": "test"},
        **kw,
    )


def test_meta_learner_pyfunc_loads_its_artifact_and_predicts(tracking_uri) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    weights = np.array([[1.0, -1.0, 0.0], [0.5, 0.0, -2.0]])
    info = _log(weights, registered_model_name="tracking-test")
    assert info.model_uri == f"runs:/{info.run_id}/model" and info.version == "1"
    assert mlflow.active_run() is None  # the run it opened for the model is closed
    x = {"x_query": np.array([[1.0, 2.0], [0.0, -1.0]])}
    for uri in (info.model_uri, "models:/tracking-test/1"):
        proba = mlflow.pyfunc.load_model(uri).predict(x)
        np.testing.assert_allclose(proba, _softmax_predict(weights, x))
    # the same name again: a new version of the registered model
    assert _log(weights * 2, registered_model_name="tracking-test").version == "2"


def test_log_pyfunc_model_into_the_active_run(tracking_uri) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run() as run:
        info = _log(np.eye(2))
        assert mlflow.active_run().info.run_id == run.info.run_id  # not ended by the logger
    assert info.run_id == run.info.run_id and info.version is None


def test_log_pyfunc_model_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="Cannot log the test model: the MLflow tracking server is unreachable"
    ):
        _log(np.eye(2), run_id="x", tracking_uri="http://127.0.0.1:9")


def test_pyfunc_pickled_before_the_move_still_loads_and_predicts(tmp_path) -> None:
    # models logged before the wrapper moved to tracking pickled an attribute-less instance of
    # autometa.meta._checkpoint.MetaLearnerPyfunc; that name still resolves and serves them
    import torch

    from autometa.meta import MAML, _checkpoint, save_meta_learner

    torch.manual_seed(0)
    learner = MAML(net={"kind": "mlp", "d_max": 4, "c_max": 3, "hidden": [8]}, inner_steps=1)
    path = save_meta_learner(learner, tmp_path / "meta_learner.pt")
    legacy_cls = _checkpoint.MetaLearnerPyfunc
    assert legacy_cls.__module__ == "autometa.meta._checkpoint" and issubclass(
        legacy_cls, MetaLearnerPyfunc
    )
    old = legacy_cls.__new__(
        legacy_cls
    )  # what unpickling an old model gives: no __init__, no attributes
    old.load_context(SimpleNamespace(artifacts={"meta_learner": str(path)}))
    rng = np.random.default_rng(0)
    xs, ys = rng.normal(size=(6, 4)).astype(np.float32), np.array([0, 1, 2, 0, 1, 2])
    x = {"x_support": xs, "y_support": ys, "x_query": xs[:2]}
    np.testing.assert_allclose(
        old.predict(None, x), _checkpoint.predict_proba(learner, x), atol=1e-6
    )


def _fitted() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    y = np.where(X["a"] + 0.1 * rng.normal(size=40) > 0, "yes", "no")
    return LogisticRegression().fit(X, y), X


def test_classifier_pyfunc_labels_probabilities_and_bad_method(tracking_uri) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    clf, X = _fitted()
    with mlflow.start_run():
        info = log_classifier(clf, name="classifier", input_example=X.head(3))
    model = mlflow.pyfunc.load_model(info.model_uri)
    np.testing.assert_array_equal(np.asarray(model.predict(X)), clf.predict(X))
    proba = model.predict(X, params={"predict_method": "predict_proba"})
    assert list(proba.columns) == ["proba_no", "proba_yes"]
    np.testing.assert_allclose(proba.to_numpy(), clf.predict_proba(X))
    with pytest.raises(
        Exception, match=r"predict_method must be one of \['predict', 'predict_proba'\]"
    ):
        model.predict(X, params={"predict_method": "decision_function"})
    assert isinstance(load_classifier(info.model_uri), LogisticRegression)


def test_load_classifier_refuses_a_model_that_is_not_a_classifier(tracking_uri) -> None:
    mlflow.set_tracking_uri(tracking_uri)
    info = _log(np.eye(2))
    with pytest.raises(
        ValueError, match="is not a classifier logged with autometa.tracking.log_classifier"
    ):
        load_classifier(info.model_uri)


def test_log_classifier_needs_a_fitted_classifier() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        log_classifier(LogisticRegression())
