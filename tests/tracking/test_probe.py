"""A tracking server that is down costs one short probe, never MLflow's minutes of retries."""

from __future__ import annotations

import os
import socket

import pytest

from autometa.tracking import TrackingWarning, _probe, _store, start_run
from autometa.tracking._probe import HTTP_LIMITS, bounded_http, clear_probe_cache, probe

DEAD = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_probe_cache()
    yield
    clear_probe_cache()


class _Counter:
    """Stands in for ``socket.create_connection``: counts attempts and refuses each one."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __call__(self, address, timeout=None):
        self.calls.append((address, timeout))
        raise ConnectionRefusedError(111, "Connection refused")


def test_unreachable_server_is_probed_once_and_mlflow_is_never_called(monkeypatch):
    counter = _Counter()
    monkeypatch.setattr(_probe.socket, "create_connection", counter)

    def no_client(*args, **kwargs):
        raise AssertionError("MlflowClient must not be built for an unreachable server")

    monkeypatch.setattr("mlflow.tracking.MlflowClient", no_client)
    with pytest.warns(TrackingWarning, match="unreachable.*127.0.0.1:9") as record:
        with start_run("exp", tracking_uri=DEAD, params={"a": 1}) as run:
            run.log_metrics({"x": 1.0}, step=0)
            run.log_params({"b": 2})
            assert not run.enabled
        # a second run in the same process (e.g. the demo's model logging) does not probe again
        with start_run("exp", tracking_uri=DEAD) as run2:
            assert not run2.enabled
    assert len(counter.calls) == 1
    assert counter.calls[0] == (("127.0.0.1", 9), _probe.PROBE_TIMEOUT_S)
    assert sum(issubclass(w.category, TrackingWarning) for w in record) == 2  # one per run


def test_real_refused_port_is_reported_without_mlflow(monkeypatch):
    # the real socket layer against a closed port: one attempt, refused, remembered
    attempts = []
    real = socket.create_connection

    def counting(address, timeout=None):
        attempts.append(address)
        return real(address, timeout=timeout)

    monkeypatch.setattr(_probe.socket, "create_connection", counting)
    reason = probe(DEAD)
    assert reason is not None and "127.0.0.1:9" in reason
    assert probe(DEAD) == reason
    assert attempts == [("127.0.0.1", 9)]


def test_local_stores_are_not_probed(monkeypatch, tmp_path):
    counter = _Counter()
    monkeypatch.setattr(_probe.socket, "create_connection", counter)
    assert probe(f"sqlite:///{tmp_path}/mlflow.db") is None
    assert probe(str(tmp_path)) is None
    assert probe("file:///tmp/x") is None
    assert counter.calls == []


def test_reachable_server_passes_the_probe():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert probe(f"http://127.0.0.1:{port}") is None


def test_mlflow_http_retries_are_bounded_inside_calls_and_restored(monkeypatch):
    for k in HTTP_LIMITS:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the user's own choice wins
    seen = {}

    class FakeClient:
        def create_run(self):
            seen.update({k: os.environ.get(k) for k in HTTP_LIMITS})

    _store._BoundedClient(FakeClient()).create_run()
    assert seen["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == HTTP_LIMITS["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    assert seen["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    with bounded_http():
        assert int(os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]) <= 2
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"


def test_loading_from_an_unreachable_server_fails_fast(monkeypatch):
    from autometa.meta import load_meta_learner

    counter = _Counter()
    monkeypatch.setattr(_probe.socket, "create_connection", counter)
    with pytest.raises(ValueError, match="tracking server .* is unreachable"):
        load_meta_learner("models:/autometa/1", tracking_uri=DEAD)
    assert len(counter.calls) == 1


def test_loading_a_logged_classifier_from_an_unreachable_server_fails_fast(monkeypatch):
    import mlflow

    from autometa.tracking import load_classifier

    counter = _Counter()
    monkeypatch.setattr(_probe.socket, "create_connection", counter)
    mlflow.set_tracking_uri(DEAD)
    with pytest.raises(
        ValueError, match="Cannot load 'models:/clf/1': the MLflow tracking server is unreachable"
    ):
        load_classifier("models:/clf/1")
    assert len(counter.calls) == 1
