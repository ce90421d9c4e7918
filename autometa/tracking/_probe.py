"""Fail fast when an MLflow tracking server is unreachable.

MLflow's HTTP client retries a refused connection with exponential backoff (7 retries and a
120 s timeout by default), so a server that is down turns every tracked command into a
minutes-long hang before autometa's "warn and continue untracked" path can run. Two guards:

* :func:`probe` opens one TCP connection to the server of an ``http(s)://`` URI with a short
  timeout before any MLflow call; an unreachable server is reported at once (and remembered
  for the rest of the process, so a command that opens several runs probes once);
* :func:`bounded_http` caps MLflow's own retries and timeout while autometa talks to the
  server (only where the user has not set ``MLFLOW_HTTP_REQUEST_*`` themselves), so a server
  that dies mid-run costs seconds, not minutes.

Local stores (``sqlite:``, ``file:``, plain paths) need no probe.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

__all__ = ["HTTP_LIMITS", "PROBE_TIMEOUT_S", "bounded_http", "clear_probe_cache", "probe"]

#: seconds the one probe connection may take
PROBE_TIMEOUT_S = 2.0
#: MLflow's HTTP settings while autometa talks to a server (unless the user set them)
HTTP_LIMITS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}

_UNREACHABLE: dict[str, str] = {}
_LOCK = threading.Lock()


def _endpoint(uri: str) -> tuple[str, int] | None:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def probe(uri: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Check that the server behind an MLflow tracking URI accepts connections.

    Parameters
    ----------
    uri : str
        A tracking URI. Only ``http://`` and ``https://`` URIs are probed.
    timeout : float
        Seconds the single connection attempt may take.

    Returns
    -------
    str or None
        ``None`` when the server answered (or the URI is a local store); otherwise a short
        reason, e.g. ``"cannot connect to 127.0.0.1:9 (ConnectionRefusedError ...)"``. A
        failure is remembered for the rest of the process (see :func:`clear_probe_cache`).
    """
    endpoint = _endpoint(uri)
    if endpoint is None:
        return None
    with _LOCK:
        if uri in _UNREACHABLE:
            return _UNREACHABLE[uri]
    host, port = endpoint
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        reason = (
            f"cannot connect to {host}:{port} within {timeout:g} s ({type(exc).__name__}: {exc})"
        )
        with _LOCK:
            _UNREACHABLE[uri] = reason
        return reason


def clear_probe_cache() -> None:
    """Forget the servers found unreachable (the next :func:`probe` tries again)."""
    with _LOCK:
        _UNREACHABLE.clear()


@contextlib.contextmanager
def bounded_http() -> Iterator[None]:
    """Cap MLflow's HTTP retries and timeout inside the block (user settings win).

    MLflow reads these environment variables on every request, so the cap applies to calls
    made inside the block only; the previous environment is restored on exit.
    """
    added = [k for k in HTTP_LIMITS if k not in os.environ]
    for k in added:
        os.environ[k] = HTTP_LIMITS[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)
