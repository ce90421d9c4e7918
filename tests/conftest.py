"""Test-session settings shared by the whole suite.

* MLflow: every test gets a tracking URI in a temporary folder, so nothing writes into the
  repository's ``mlruns/`` (tests that check the default store ``chdir`` to ``tmp_path``).
* Plots render off-screen.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
_SESSION_STORE = tempfile.mkdtemp(prefix="autometa-test-mlflow-")
os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{_SESSION_STORE}/mlflow.db"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


@pytest.fixture(autouse=True)
def _restore_mlflow_global_uri():
    """Tests that call ``mlflow.set_tracking_uri`` or ``mlflow.set_experiment`` must not leak them.

    ``set_experiment`` leaves a process-wide active experiment id (and ``MLFLOW_EXPERIMENT_ID``)
    behind; a later test with a fresh store would then fail with "No Experiment with id=...".
    """
    env_experiment = os.environ.get("MLFLOW_EXPERIMENT_ID")
    yield
    import sys

    if "mlflow" in sys.modules:
        import mlflow
        import mlflow.tracking.fluent as fluent

        mlflow.set_tracking_uri(f"sqlite:///{_SESSION_STORE}/mlflow.db")
        fluent._active_experiment_id = None
        if env_experiment is None:
            os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
        else:
            os.environ["MLFLOW_EXPERIMENT_ID"] = env_experiment


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh, empty MLflow store for one test."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
