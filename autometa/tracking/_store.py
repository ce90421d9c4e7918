"""MLflow glue: the default local store and run helpers that never kill work.

The default tracking URI is a SQLite database inside ``mlruns/`` under the current working
directory, with artifacts next to it in ``mlruns/artifacts``, unless ``MLFLOW_TRACKING_URI``
is set (then any MLflow server or store it names is used). Every call through
:class:`TrackedRun` is guarded: if the backend is unreachable or fails, one warning is
issued and training goes on untracked. A server URI is probed once (one short TCP
connection, :func:`~autometa.tracking._probe.probe`) before the first MLflow call, and
MLflow's own HTTP retries are capped while autometa talks to it, so a server that is down
costs about two seconds instead of MLflow's minutes of backoff.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

from autometa._version import __version__
from autometa.tracking._probe import bounded_http, probe
from autometa.tracking._quiet import quiet_mlflow

__all__ = [
    "TrackedRun",
    "TrackingWarning",
    "default_artifact_location",
    "default_tracking_uri",
    "start_run",
    "tracking_disabled_by_env",
]

_Method = TypeVar("_Method", bound=Callable[..., None])

_ENV_DISABLE = "AUTOMETA_TRACKING"


class TrackingWarning(UserWarning):
    """Issued once per run when MLflow tracking fails; the work itself continues."""


def default_tracking_uri(cwd: str | os.PathLike[str] | None = None) -> str:
    """``$MLFLOW_TRACKING_URI`` if set, else ``sqlite:///<cwd>/mlruns/mlflow.db``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = Path(cwd or os.getcwd()).resolve() / "mlruns"
    return f"sqlite:///{root / 'mlflow.db'}"


def default_artifact_location(cwd: str | os.PathLike[str] | None = None) -> str:
    """Artifact root used for experiments created in the default local store."""
    return (Path(cwd or os.getcwd()).resolve() / "mlruns" / "artifacts").as_uri()


def tracking_disabled_by_env() -> bool:
    """True when ``AUTOMETA_TRACKING`` is set to ``0``/``false``/``off``."""
    return os.environ.get(_ENV_DISABLE, "1").strip().lower() in {"0", "false", "off", "no"}


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


class _BoundedClient:
    """An ``MlflowClient`` whose every call runs under :func:`bounded_http`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with bounded_http():
                return attr(*args, **kwargs)

        return call


def _tracked(what: str) -> Callable[[_Method], _Method]:
    """Make a logging method a no-op on an untracked run and turn its failure into one warning.

    A failure (any exception: tracking must never kill work) warns once, naming ``what`` the
    method was doing, and stops tracking for the run (see ``_fail``).
    """

    def wrap(method: _Method) -> _Method:
        @functools.wraps(method)
        def guarded(self: Any, *args: Any, **kwargs: Any) -> None:
            if not self.enabled:
                return
            try:
                method(self, *args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - tracking must never kill work
                self._fail(what, exc)

        return guarded  # type: ignore[return-value]

    return wrap


class TrackedRun:
    """A handle on one MLflow run whose methods warn instead of raising.

    Obtain one with :func:`start_run`. When tracking is disabled or the backend failed,
    ``run_id`` is ``None`` and every method is a no-op.
    """

    def __init__(self, client: Any | None, run_id: str | None, tracking_uri: str | None) -> None:
        self._client = client
        self.run_id = run_id
        self.tracking_uri = tracking_uri
        self._warned = False

    @property
    def enabled(self) -> bool:
        return self.run_id is not None

    def _fail(self, what: str, exc: BaseException, stacklevel: int = 3) -> None:
        if not self._warned:
            warnings.warn(
                f"MLflow tracking failed while {what} ({type(exc).__name__}: {exc}); "
                "continuing without tracking for this run.",
                TrackingWarning,
                stacklevel=stacklevel,
            )
            self._warned = True
        self.run_id = None

    @_tracked("logging parameters")
    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log (nested) parameters; values are stringified, long values truncated."""
        from mlflow.entities import Param

        items = [Param(k, str(v)[:6000]) for k, v in _flatten(params).items()]
        for i in range(0, len(items), 100):
            self._client.log_batch(self.run_id, params=items[i : i + 100])

    @_tracked("setting tags")
    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self._client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    @_tracked("logging metrics")
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log numeric metrics (non-finite and non-numeric values are skipped)."""
        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        items = []
        for k, v in metrics.items():
            try:
                fv = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(fv):
                items.append(Metric(k.replace("@", "_at_"), fv, ts, int(step or 0)))
        if items:
            self._client.log_batch(self.run_id, metrics=items)

    @_tracked("logging an artifact")
    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> None:
        self._client.log_artifact(self.run_id, str(path), artifact_path)

    @_tracked("logging a dictionary")
    def log_dict(self, data: Any, name: str) -> None:
        """Log a JSON-serializable object as the artifact ``name`` (e.g. ``"results.json"``)."""
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / Path(name).name
            p.write_text(json.dumps(data, indent=2, default=str))
            parent = str(Path(name).parent)
            self._client.log_artifact(self.run_id, str(p), None if parent == "." else parent)

    @_tracked("logging text")
    def log_text(self, text: str, name: str) -> None:
        self._client.log_text(self.run_id, text, name)

    def supersede(self, previous_run_id: str, *, mark_killed: bool = True) -> None:
        """Link this run to ``previous_run_id``, the run it resumes.

        Tags ``autometa.resumed_in`` on the old run and ``autometa.resumed_from_run`` on this
        one; with ``mark_killed`` (the caller knows the old process is gone) an old run still
        ``RUNNING`` is marked ``KILLED``.
        """
        if not self.enabled or previous_run_id == self.run_id:
            return
        try:
            if mark_killed and self._client.get_run(previous_run_id).info.status == "RUNNING":
                self._client.set_terminated(previous_run_id, status="KILLED")
            self._client.set_tag(previous_run_id, "autometa.resumed_in", self.run_id)
            self._client.set_tag(self.run_id, "autometa.resumed_from_run", previous_run_id)
        except Exception as exc:  # noqa: BLE001 - the new run itself stays tracked
            warnings.warn(
                f"Could not mark the resumed MLflow run {previous_run_id} KILLED ({type(exc).__name__}: {exc}).",
                TrackingWarning,
                stacklevel=2,
            )

    @_tracked("logging a figure")
    def log_figure(self, figure: Any, name: str) -> None:
        """Log a matplotlib figure as an image artifact ``name`` (e.g. ``"learning_curve.png"``)."""
        self._client.log_figure(self.run_id, figure, name)


def _get_or_create_experiment(client: Any, name: str, uri: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    kwargs = {}
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        kwargs["artifact_location"] = default_artifact_location()
    try:
        return client.create_experiment(name, **kwargs)
    except Exception:  # another process created it in between
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id


@contextlib.contextmanager
def _sqlite_store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive OS file lock (``<database>.lock``) while a local SQLite store is opened.

    MLflow creates a new store's tables when a client first touches it; two processes doing
    that at once (two campaigns started together, say) race, and the loser fails with "table
    ... already exists". Other stores, and systems without ``fcntl``, run unlocked.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    database = Path(uri[len("sqlite:///") :])
    fd = os.open(database.with_name(database.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def start_run(
    experiment: str = "autometa",
    run_name: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    tracking_uri: str | None = None,
    enabled: bool = True,
) -> Iterator[TrackedRun]:
    """Open an MLflow run in ``experiment`` and yield a :class:`TrackedRun`.

    Parameters
    ----------
    experiment : str
        Experiment name (created on first use).
    run_name : str, optional
        Display name of the run.
    params, tags : mapping, optional
        Logged at the start of the run.
    tracking_uri : str, optional
        Overrides :func:`default_tracking_uri`.
    enabled : bool
        ``False`` (or the environment variable ``AUTOMETA_TRACKING=0``) yields a disabled
        run whose methods do nothing.

    Notes
    -----
    The run is ended with status ``FINISHED``, or ``FAILED`` if the block raised (the
    exception propagates: tracking never swallows the user's errors, only its own).
    The default local store is created on first use: the ``mlruns/`` folder of the
    current working directory.
    """
    if not enabled or tracking_disabled_by_env():
        yield TrackedRun(None, None, None)
        return
    uri = tracking_uri or default_tracking_uri()
    run = TrackedRun(None, None, uri)
    client = None
    try:
        unreachable = probe(uri)
        if unreachable:
            raise ConnectionError(f"the tracking server is unreachable: {unreachable}")
        if uri.startswith("sqlite:///"):
            Path(uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        from mlflow.tracking import MlflowClient

        # a new store logs its table creation at INFO; processes that open a new SQLite store
        # at once would each create its tables (and all but one fail): they take turns
        with quiet_mlflow(), _sqlite_store_lock(uri):
            client = _BoundedClient(MlflowClient(tracking_uri=uri))
            exp_id = _get_or_create_experiment(client, experiment, uri)
        all_tags = {"autometa.version": _version()}
        all_tags.update({k: str(v) for k, v in (tags or {}).items()})
        info = client.create_run(exp_id, run_name=run_name, tags=all_tags).info
        run = TrackedRun(client, info.run_id, uri)
    except Exception as exc:  # noqa: BLE001
        run._fail(
            f"starting a run at {uri}", exc, stacklevel=4
        )  # the caller's `with start_run(...)` line
    if params:
        run.log_params(params)
    status = "FINISHED"
    try:
        yield run
    except BaseException:
        status = "FAILED"
        raise
    finally:
        if run.enabled and client is not None:
            try:
                client.set_terminated(run.run_id, status=status)
            except Exception as exc:  # noqa: BLE001
                run._fail("ending the run", exc)


def _version() -> str:

    return __version__
