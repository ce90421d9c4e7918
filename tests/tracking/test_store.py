from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from autometa.tracking import TrackingWarning, default_tracking_uri, start_run


def test_default_uri_is_sqlite_in_mlruns_of_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = default_tracking_uri()
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlruns/mlflow.db"


def test_env_var_overrides_default(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5999")
    assert default_tracking_uri() == "http://127.0.0.1:5999"


def test_run_logs_params_metrics_artifacts(tracking_uri, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    art = tmp_path / "note.txt"
    art.write_text("hello")
    with start_run(
        "exp-a", run_name="r1", params={"algo": "maml", "net": {"hidden": [64, 64]}}
    ) as run:
        for step in range(3):
            run.log_metrics({"meta_train/loss": 1.0 / (step + 1), "bad": float("nan")}, step=step)
        run.log_dict({"a": 1}, "config.json")
        run.log_artifact(art)
        run.log_figure(fig, "curve.png")
        run_id = run.run_id
    plt.close(fig)
    client = MlflowClient(tracking_uri)
    data = client.get_run(run_id).data
    assert data.params["algo"] == "maml"
    assert data.params["net.hidden"] == "[64, 64]"
    hist = client.get_metric_history(run_id, "meta_train/loss")
    assert [m.step for m in hist] == [0, 1, 2]
    assert "bad" not in data.metrics
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"config.json", "note.txt", "curve.png"} <= names
    assert client.get_run(run_id).info.status == "FINISHED"


def test_default_store_created_under_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    with start_run("exp-default") as run:
        run.log_metrics({"x": 1.0})
        assert run.enabled
    assert (tmp_path / "mlruns" / "mlflow.db").exists()


def test_unreachable_backend_warns_once_and_work_goes_on(tmp_path):
    # a sqlite URI whose parent is a file cannot be created
    blocker = tmp_path / "file"
    blocker.write_text("x")
    uri = f"sqlite:///{blocker}/sub/mlflow.db"
    with pytest.warns(TrackingWarning, match="continuing without tracking"):
        with start_run("exp", tracking_uri=uri) as run:
            run.log_metrics({"x": 1.0})
            run.log_params({"a": 1})
            assert not run.enabled
    # later calls stay silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.log_metrics({"y": 2.0})


def test_failed_block_marks_run_failed_and_reraises(tracking_uri):
    with pytest.raises(RuntimeError, match="boom"):
        with start_run("exp-fail") as run:
            run_id = run.run_id
            raise RuntimeError("boom")
    assert MlflowClient(tracking_uri).get_run(run_id).info.status == "FAILED"


def test_disabled_run_is_noop(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUTOMETA_TRACKING", "0")
    with start_run("exp") as run:
        run.log_metrics({"x": 1.0})
        assert run.run_id is None
    with start_run("exp", enabled=False) as run:
        assert not run.enabled
    assert not Path(tmp_path / "mlruns").exists()


_RACER = """
import sys, time, warnings
warnings.simplefilter("error")  # a TrackingWarning (a failed store creation) fails the process
from autometa.tracking import start_run
start = float(sys.argv[2])
while time.time() < start:  # all processes open the new store at the same moment
    pass
with start_run("race", tracking_uri=sys.argv[1]) as run:
    assert run.enabled
    run.log_metrics({"m": 1.0})
"""


def test_processes_opening_a_new_sqlite_store_at_once_all_track(tmp_path):
    """Two campaigns started together each open the new mlruns database; without the store
    lock one of them lost the race ("table ... already exists") and ran untracked."""
    import subprocess
    import sys
    import time

    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    start = time.time() + 8.0  # time for the interpreters to import mlflow first
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, uri, str(start)], stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    from mlflow.tracking import MlflowClient

    exp = MlflowClient(tracking_uri=uri).get_experiment_by_name("race")
    assert len(MlflowClient(tracking_uri=uri).search_runs([exp.experiment_id])) == 3
