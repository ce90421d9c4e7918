"""The ``autometa`` MLflow flavor and ``mlflow.sklearn``, on fitted estimators and a temporary store.

A fitted AutoMetaClassifier and AutoMetaRegressor round-trip through
``autometa.mlflow.log_model`` / ``load_model``, through ``mlflow.pyfunc`` (signature, input
example, ``predict_method``), through ``mlflow.sklearn.log_model(serialization_format=
"cloudpickle")``, and through a real ``mlflow models serve`` scoring server (HTTP round trip);
MLflow's default skops format gets an error that names the working calls.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_diabetes, load_wine

import autometa.mlflow
from autometa import AutoMetaClassifier, AutoMetaRegressor


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[object, pd.DataFrame]]:
    X, y = load_wine(return_X_y=True, as_frame=True)
    Xc, yc = X.iloc[::4], y.iloc[::4].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    clf = AutoMetaClassifier(random_state=0).fit(Xc, yc)
    Xr, yr = load_diabetes(return_X_y=True, as_frame=True)
    Xr, yr = Xr.iloc[:60], yr.iloc[:60]
    reg = AutoMetaRegressor(random_state=0).fit(Xr, yr)
    return {"classifier": (clf, Xc), "regressor": (reg, Xr)}


@pytest.fixture(scope="module")
def module_store(tmp_path_factory) -> str:
    """One temporary store for the module (creating a SQLite store costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('flavor-store')}/mlflow.db"


@pytest.fixture
def store(module_store: str, monkeypatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", module_store)
    mlflow.set_tracking_uri(module_store)
    mlflow.set_experiment("flavor-test")
    return module_store


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_the_flavor_round_trips_a_fitted_estimator(fitted, store, kind) -> None:
    est, X = fitted[kind]
    with mlflow.start_run():
        info = autometa.mlflow.log_model(
            est, name="model", input_example=X.head(3), registered_model_name=f"am-{kind}"
        )
    again = autometa.mlflow.load_model(f"models:/am-{kind}/1")
    assert type(again) is type(est)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    # the MLmodel: both flavors, a signature with the input columns and the predict_method parameter
    assert set(info.flavors) == {"autometa", "python_function"}
    assert info.flavors["python_function"]["loader_module"] == "autometa.mlflow"
    assert info.signature.inputs.input_names() == list(X.columns)
    assert [p.name for p in info.signature.params] == ["predict_method"]
    assert info.saved_input_example_info is not None
    # pyfunc: labels / means by default, the extra method through params
    model = mlflow.pyfunc.load_model(info.model_uri)
    pred = model.predict(X)
    np.testing.assert_array_equal(np.asarray(pred), est.predict(X))
    if kind == "classifier":
        proba = model.predict(X, params={"predict_method": "predict_proba"})
        assert list(proba.columns) == [f"proba_{c}" for c in est.classes_]
        np.testing.assert_allclose(proba.to_numpy(), est.predict_proba(X))
    else:
        out = model.predict(X, params={"predict_method": "predict_std"})
        mean, std = est.predict(X, return_std=True)
        np.testing.assert_allclose(out["prediction"], mean)
        np.testing.assert_allclose(out["std"], std)
    with pytest.raises(ValueError, match="predict_method must be one of"):
        model.predict(X, params={"predict_method": "predict_log_proba"})


def test_load_model_names_the_flavors_of_a_foreign_model(fitted, store) -> None:
    from sklearn.naive_bayes import GaussianNB

    X, y = load_wine(return_X_y=True, as_frame=True)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            GaussianNB().fit(X, y), name="nb", pip_requirements=["scikit-learn"]
        )
    with pytest.raises(
        ValueError, match=r"has no autometa flavor \(its flavors: python_function, sklearn\)"
    ):
        autometa.mlflow.load_model(info.model_uri)


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_mlflow_sklearn_log_model_round_trips_with_cloudpickle(fitted, store, kind) -> None:
    est, X = fitted[kind]
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            est, name="sk", serialization_format="cloudpickle", pip_requirements=["autometa"]
        )
    again = mlflow.sklearn.load_model(info.model_uri)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    np.testing.assert_array_equal(
        np.asarray(mlflow.pyfunc.load_model(info.model_uri).predict(X)), est.predict(X)
    )


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_mlflow_sklearn_default_skops_format_names_the_working_calls(fitted, store, kind) -> None:
    est, _ = fitted[kind]
    with mlflow.start_run(), pytest.raises(MlflowException) as err:
        mlflow.sklearn.log_model(est, name="sk")
    cause = err.value.__cause__
    assert isinstance(cause, TypeError)
    assert "autometa.mlflow.log_model" in str(
        cause
    ) and "serialization_format='cloudpickle'" in str(cause)
    # pickling, copying and cloning are untouched by the skops guard
    import copy
    import pickle

    from sklearn.base import clone

    for twin in (pickle.loads(pickle.dumps(est)), copy.deepcopy(est)):
        np.testing.assert_array_equal(twin.predict(fitted[kind][1]), est.predict(fitted[kind][1]))
    assert clone(est).get_params() == est.get_params()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, payload: dict) -> dict:
    req = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def test_mlflow_models_serve_scores_a_logged_classifier_and_regressor(
    fitted, store, tmp_path
) -> None:
    """``mlflow models serve --env-manager local`` on each logged model: a real HTTP round trip."""
    uris = {}
    for kind in ("classifier", "regressor"):
        est, X = fitted[kind]
        with mlflow.start_run():
            uris[kind] = autometa.mlflow.log_model(
                est, name=kind, input_example=X.head(2)
            ).model_uri
    env = dict(
        os.environ,
        MLFLOW_TRACKING_URI=store,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    for kind, uri in uris.items():
        est, X = fitted[kind]
        port = _free_port()
        log = (tmp_path / f"{kind}.log").open("w")
        cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", uri, "--env-manager", "local",
               "--host", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
        server = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 180
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"the scoring server did not start: {(tmp_path / f'{kind}.log').read_text()[-2000:]}"
                    )
                time.sleep(0.5)
            rows = X.head(5)
            body = {"dataframe_split": json.loads(rows.to_json(orient="split"))}
            got = _post(f"http://127.0.0.1:{port}/invocations", body)["predictions"]
            if kind == "classifier":
                np.testing.assert_array_equal(np.asarray(got), est.predict(rows))
            else:  # the rows travel as JSON text: equal to 1e-6
                np.testing.assert_allclose(np.asarray(got), est.predict(rows), rtol=1e-6)
            extra = "predict_proba" if kind == "classifier" else "predict_std"
            got = _post(
                f"http://127.0.0.1:{port}/invocations",
                {**body, "params": {"predict_method": extra}},
            )
            table = pd.DataFrame(got["predictions"])
            if kind == "classifier":
                np.testing.assert_allclose(table.to_numpy(), est.predict_proba(rows), rtol=1e-6)
            else:
                np.testing.assert_allclose(
                    table["std"], est.predict(rows, return_std=True)[1], rtol=1e-6
                )
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            log.close()
