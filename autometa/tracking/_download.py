"""Fetch a model file from an MLflow store: ``models:/`` registry URIs and ``runs:/`` artifacts.

MLflow's own ``models:/`` download follows the process-wide registry URI
(``mlflow.set_tracking_uri``); :func:`download_model_file` resolves the registry version with
an explicit client of the store asked for, probes that store once (no retry storm on a dead
server) and turns every MLflow failure into a ``ValueError`` that names the URI and the store.
"""

from __future__ import annotations

import os
from pathlib import Path

from autometa.tracking._probe import bounded_http, probe
from autometa.tracking._store import default_tracking_uri

__all__ = ["MLFLOW_SCHEMES", "download_model_file", "is_mlflow_uri", "resolve_registry_uri"]

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


def is_mlflow_uri(uri: str | os.PathLike[str]) -> bool:
    """True for ``models:/``, ``runs:/`` and ``mlflow-artifacts:/`` URIs."""
    return os.fspath(uri).startswith(MLFLOW_SCHEMES)


def resolve_registry_uri(uri: str, registry_uri: str) -> str:
    """``models:/name/version`` (or ``/latest``, ``/<stage>``, ``@alias``) -> the version's artifact location."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)
    ref = uri[len("models:/") :].strip("/")
    if "@" in ref.split("/", 1)[0]:
        name, _, alias = ref.split("/", 1)[0].partition("@")
        version = client.get_model_version_by_alias(name, alias).version
    else:
        parts = ref.split("/")
        if len(parts) < 2 or not parts[0]:
            raise ValueError(
                f"{uri!r} is not a models:/ URI of the form models:/NAME/VERSION or models:/NAME@ALIAS."
            )
        name, version = parts[0], parts[1]
        if version.lower() == "latest":
            versions = client.search_model_versions(f"name='{name}'")
            if not versions:
                raise ValueError(f"Registered model {name!r} has no versions in {registry_uri!r}.")
            version = str(max(int(v.version) for v in versions))
        elif not version.isdigit():
            (mv,) = client.get_latest_versions(name, stages=[version])
            version = mv.version
    return client.get_model_version_download_uri(name, str(version))


def download_model_file(
    uri: str,
    dst: str | os.PathLike[str],
    tracking_uri: str | None = None,
    *,
    file_name: str,
    what: str = "model file",
    hint: str = "",
) -> Path:
    """Download ``uri`` into ``dst`` and return the model file in it.

    Parameters
    ----------
    uri : str
        ``models:/<name>/<version>``, ``runs:/<run_id>/<path>`` or ``mlflow-artifacts:/...``.
    dst : path-like
        A folder to download into (the caller owns and removes it).
    tracking_uri : str, optional
        The store; default :func:`autometa.tracking.default_tracking_uri`.
    file_name : str
        The file to look for in a downloaded folder (else the first ``*.pt`` in it).
    what, hint : str
        What the file is, and how to log one: the error raised when the download holds none.

    Raises
    ------
    ValueError
        If the store is unreachable, the download fails, or no model file is in it.
    """
    try:
        import mlflow
    except ImportError as exc:  # pragma: no cover - mlflow is a dependency
        raise ValueError(f"Loading {uri!r} needs mlflow; pip install mlflow.") from exc
    if tracking_uri is None:
        tracking_uri = default_tracking_uri()
    unreachable = probe(tracking_uri)
    if unreachable:
        raise ValueError(
            f"Could not download {uri!r}: the MLflow tracking server {tracking_uri!r} is unreachable "
            f"({unreachable}). Start the server, or pass tracking_uri= / set MLFLOW_TRACKING_URI to "
            "the store that holds it."
        )
    try:
        with bounded_http():
            artifact_uri = (
                resolve_registry_uri(uri, tracking_uri) if uri.startswith("models:/") else uri
            )
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=artifact_uri,
                    dst_path=os.fspath(dst),
                    tracking_uri=tracking_uri,
                    registry_uri=tracking_uri,
                )
            )
    except Exception as exc:  # noqa: BLE001 - mlflow raises many types
        raise ValueError(
            f"Could not download {uri!r} from the MLflow tracking store {tracking_uri!r} "
            f"({type(exc).__name__}: {exc}). Check the URI, and pass tracking_uri= or set "
            "MLFLOW_TRACKING_URI to the store that holds it."
        ) from exc
    if local.is_file():
        return local
    candidates = sorted(local.rglob(file_name)) or sorted(local.rglob("*.pt"))
    if not candidates:
        raise ValueError(
            f"{uri!r} holds no {what} (looked for {file_name} and *.pt under {local}); {hint}"
        )
    return candidates[0]
