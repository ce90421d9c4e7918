"""Meta-learner checkpoints: one file format for saved learners and training snapshots.

A checkpoint is a :func:`torch.save` archive holding a plain dictionary that
``torch.load(..., weights_only=True)`` can read (no pickled classes)::

    {
        "format": "autometa.meta-learner",   # magic string: what this file is
        "format_version": 1,                 # bumped on incompatible changes
        "autometa_version": "0.1.0",
        "algo": "maml",                      # key of autometa.meta.LEARNERS
        "config": "<JSON>",                  # learner.get_config(), rebuilds the learner
        "state_dict": {name: Tensor},        # learner.state_dict(), on CPU
        "metadata": "<JSON>",                # free-form (model card, metrics, command...)
        "training": {...},                   # only in MetaTrainer snapshots (optimizer, RNGs...)
    }

Files are written atomically (temporary file, ``fsync``, :func:`os.replace`), so a process
killed while saving, or a disk that fills up, leaves either the previous checkpoint or the new
one, never half a file. Every checkpoint also stores ``"content_sha256"``, a SHA-256 of
everything else in it (tensor bytes, dtypes, shapes, strings, numbers), written at save time
and verified by :func:`load_checkpoint`: a flipped bit in the tensor data is a clear error,
not a silently changed weight. Files written before the hash existed (no such field) still
load and get the hash when saved again. :func:`checkpoint_lock` keeps two processes from
meta-training into one checkpoint folder.
:func:`load_meta_learner` also accepts MLflow URIs (``models:/name/version``,
``runs:/<run_id>/path``; :mod:`autometa.tracking` fetches the file). This module is the file
format only: logging a learner as an MLflow model is :func:`autometa.meta.log_meta_learner`
(:mod:`autometa.meta._mlflow_model`, its MLflow side in :mod:`autometa.tracking`), and the
pyfunc model's predictor is :func:`autometa.meta._base.predict_proba`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autometa._version import __version__
from autometa.meta._base import (
    LEARNERS,
    MetaLearner,
    build_learner,
    ensure_registered,
    learner_dims,  # noqa: F401  (its home before autometa.meta._base; older callers import it here)
    predict_proba,  # noqa: F401  (the predictor that models logged by earlier releases name)
)
from autometa.meta._integrity import content_hash, verify_shipped
from autometa.tracking import download_model_file, is_mlflow_uri
from autometa.tracking._learner_model import ARTIFACT_NAME as _ARTIFACT_NAME
from autometa.tracking._learner_model import legacy_pyfunc_class

__all__ = [
    "BEST_FILE",
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "COMPACT_FILE",
    "CURVE_FILE",
    "LAST_FILE",
    "atomic_torch_save",
    "checkpoint_lock",
    "compact_payload",
    "content_hash",
    "expand_payload",
    "learner_from_payload",
    "load_checkpoint",
    "load_meta_learner",
    "make_payload",
    "read_torch_file",
    "resume_file",
    "save_meta_learner",
    "to_json",
]

CHECKPOINT_FORMAT = "autometa.meta-learner"
CHECKPOINT_VERSION = 1
#: the files of a checkpoint folder: the latest training state, the best by meta-validation,
#: the compact training state (:func:`compact_payload`) and the learning-curve plot
LAST_FILE, BEST_FILE, COMPACT_FILE, CURVE_FILE = (
    "last.pt",
    "best.pt",
    "resume.pt",
    "learning_curve.png",
)
#: optimizer moments stored as bf16 in a compact file (Adam/AdamW's first and second moments)
_COMPACT_MOMENTS = ("exp_avg", "exp_avg_sq")


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to ``path`` atomically: temporary file in the same folder, fsync, rename.

    A reader (or a process restarted after ``kill -9``) sees either the old file or the
    complete new one; a failed write (full disk, I/O error) removes the temporary file and
    leaves the previous ``path`` untouched. A meta-learner payload gets its
    ``"content_sha256"`` (see :func:`content_hash`).

    Raises
    ------
    PermissionError
        If the folder is not writable (a clear message naming it).
    OSError
        If writing fails (e.g. ``ENOSPC``); the message says the previous file is unchanged.
    """
    if isinstance(obj, Mapping) and obj.get("format") == CHECKPOINT_FORMAT:
        obj = {**obj, "content_sha256": content_hash(obj)}
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".ckpt.tmp", dir=path.parent)
    except PermissionError as exc:
        raise PermissionError(
            exc.errno,
            f"Cannot write the checkpoint {path}: the folder {path.parent} is not writable "
            f"({exc.strerror}). Choose a writable checkpoint folder.",
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with _suppress_os_error():
            os.unlink(tmp)
        if isinstance(exc, OSError):
            kept = (
                "the previous checkpoint there is unchanged"
                if path.exists()
                else "nothing was written"
            )
            raise type(exc)(
                exc.errno, f"Saving the checkpoint {path} failed ({exc.strerror or exc}); {kept}."
            ) from None
        raise
    # make the rename itself durable
    if hasattr(os, "O_DIRECTORY"):
        with _suppress_os_error():
            dfd = os.open(path.parent, os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    return path


@contextlib.contextmanager
def checkpoint_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive lock on a checkpoint folder (``<folder>/.autometa.lock``).

    A second process that tries to meta-train into the same folder gets a clear error
    instead of interleaving its checkpoints with the first one's. The lock is an OS file
    lock (``flock``): it is released when the block ends and also when the holder dies
    (``kill -9``), so ``--resume`` after a crash is never blocked by a stale lock. On
    systems without ``fcntl`` the block runs unlocked.

    Raises
    ------
    RuntimeError
        If another process holds the lock (its pid is named).
    PermissionError
        If the folder is not writable.
    """
    folder = Path(folder)
    lock_path = folder / ".autometa.lock"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError as exc:
        raise PermissionError(
            exc.errno,
            f"Cannot meta-train into {folder}: the checkpoint folder is not writable ({exc.strerror}). "
            "Choose a writable --checkpoint-dir.",
        ) from None
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            fcntl = None
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise RuntimeError(
                    f"The checkpoint folder {folder} is in use by another meta-training process "
                    f"(pid {holder}); two runs must not write into one folder. Wait for it to finish, "
                    "or choose another checkpoint folder."
                ) from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)  # named in the second process's error
        yield lock_path
    finally:
        os.close(fd)  # closing the descriptor releases the flock


class _suppress_os_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return exc_type is not None and issubclass(exc_type, OSError)


def to_json(obj: Any, what: str) -> str:
    """``obj`` as sorted-key JSON (tuples, sets and NumPy values converted); ValueError naming ``what`` otherwise."""
    try:
        return json.dumps(obj, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"The {what} must be JSON-serializable to be stored in a checkpoint ({exc})."
        ) from exc


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (tuple, set)):
        return list(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def make_payload(
    learner: MetaLearner,
    *,
    metadata: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The dictionary stored in a checkpoint (tensors moved to CPU)."""

    algo = getattr(learner, "algo", None)
    if not isinstance(algo, str) or algo == "abstract":
        raise ValueError(
            f"{type(learner).__name__} has no registered algorithm name; decorate its class "
            "with @autometa.meta.register_learner('name') so that it can be rebuilt on load."
        )
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "autometa_version": __version__,
        "algo": algo,
        "module": type(learner).__module__,
        "config": to_json(learner.get_config(), f"config of {type(learner).__name__}"),
        "state_dict": {k: v.detach().cpu().clone() for k, v in learner.state_dict().items()},
        "metadata": to_json(dict(metadata or {}), "metadata"),
    }
    if training is not None:
        payload["training"] = dict(training)
    return payload


def save_meta_learner(
    learner: MetaLearner,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save a meta-learner (its algorithm, config and weights) to ``path`` atomically.

    Parameters
    ----------
    learner : MetaLearner
        A learner whose class is registered (``@register_learner``) and whose
        ``get_config()`` is JSON-serializable.
    path : path-like
        Destination file (parent folders are created). The conventional suffix is ``.pt``.
    metadata : mapping, optional
        JSON-serializable information stored alongside (metrics, data, command...).

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> from autometa.meta import save_meta_learner, load_meta_learner  # doctest: +SKIP
    >>> save_meta_learner(learner, "maml.pt", metadata={"steps": 1000})  # doctest: +SKIP
    >>> same = load_meta_learner("maml.pt")                              # doctest: +SKIP
    """
    return atomic_torch_save(make_payload(learner, metadata=metadata), path)


def read_torch_file(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)`` with autometa's errors: no code is ever unpickled.

    The one reader behind :func:`load_checkpoint` and the other tensor files autometa writes
    (for example :meth:`autometa.optuna._icl.ICLSurrogate.save`).

    Raises
    ------
    FileNotFoundError
        If ``path`` is not a file.
    ValueError
        If the file is truncated, corrupt, not a torch archive, or holds pickled Python objects;
        or a shipped file (``autometa/checkpoints``) differs from the SHA-256 its model card
        records (:func:`autometa.meta._integrity.verify_shipped`).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    verify_shipped(path)  # a shipped file must match the SHA-256 its model card records
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/EOFError/UnpicklingError...
        # never pass on torch's advice to retry with weights_only=False: unpickling arbitrary
        # objects from a file runs code; an autometa checkpoint never needs it
        text = str(exc).splitlines()[0] if str(exc) else ""
        if "weights_only" in str(exc) or "Weights only load failed" in text:
            text = "it holds pickled Python objects, which autometa refuses to unpickle"
        raise ValueError(
            f"{path} is not a readable checkpoint: the file is truncated, corrupt or not an autometa "
            f"archive ({type(exc).__name__}: {text}). "
            "Use another checkpoint (a MetaTrainer keeps best.pt and last.pt) or save it again."
        ) from None


def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> dict[str, Any]:
    """Read and validate a checkpoint file; return its payload dictionary.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated or corrupt, is not an autometa meta-learner checkpoint, or
        was written by a newer, incompatible format version.
    """
    path = Path(path)
    if path.is_dir():
        for name in (BEST_FILE, LAST_FILE, _ARTIFACT_NAME):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise FileNotFoundError(
                f"{path} is a folder without best.pt, last.pt or {_ARTIFACT_NAME}; pass a checkpoint file."
            )
    payload = read_torch_file(path, map_location)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        hint = ""
        if (
            isinstance(payload, dict)
            and payload
            and all(hasattr(v, "shape") for v in payload.values())
        ):
            hint = (
                " It looks like a bare state_dict: build the learner yourself and call "
                "learner.load_state_dict(torch.load(path)), or save it with save_meta_learner."
            )
        raise ValueError(
            f"{path} is not an autometa meta-learner checkpoint (no format={CHECKPOINT_FORMAT!r} "
            f"field).{hint}"
        )
    version = payload.get("format_version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} uses checkpoint format version {version!r}, but this autometa reads versions "
            f"<= {CHECKPOINT_VERSION}; upgrade autometa (the file was written by autometa "
            f"{payload.get('autometa_version', '?')})."
        )
    missing = [k for k in ("algo", "config", "state_dict") if k not in payload]
    if missing:
        raise ValueError(
            f"{path} is an incomplete autometa checkpoint: missing {missing}; save it again."
        )
    stored = payload.get("content_sha256")
    if stored is not None:  # files from before the hash existed have none (and load as before)
        actual = content_hash(payload)
        if stored != actual:
            raise ValueError(
                f"{path} failed its integrity check: its content no longer matches the SHA-256 stored "
                f"when it was saved ({str(stored)[:12]}... != {actual[:12]}...). The file was changed or "
                "corrupted on disk; use another checkpoint (a MetaTrainer keeps best.pt and last.pt) or "
                "save it again."
            )
    return payload


def compact_payload(payload: Mapping[str, Any], history_tail: int = 200) -> dict[str, Any]:
    """A training checkpoint made small enough to commit: fp16 weights (and averaged weights), bf16 optimizer moments.

    The RNG states, the step and the other optimizer state stay exact and the history keeps
    its last ``history_tail`` entries, so :func:`expand_payload` of the result continues the
    same task stream with the weights and moments rounded to 16 bits (about a third of the
    size of the full file).
    """
    out = _cast_payload(payload, torch.float16, torch.bfloat16)
    training = out["training"]
    training["history"] = json.dumps(json.loads(training["history"])[-int(history_tail) :])
    return out


def expand_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`compact_payload`: weights and moments back in float32."""
    return _cast_payload(payload, torch.float32, torch.float32)


def _cast_payload(
    payload: Mapping[str, Any], weights: torch.dtype, moments: torch.dtype
) -> dict[str, Any]:
    """A copy of a training payload with its float weights (and averaged weights) cast to
    ``weights`` and the optimizer's moments (:data:`_COMPACT_MOMENTS`) to ``moments``."""

    def cast(tensors: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v.to(weights) if v.is_floating_point() else v for k, v in tensors.items()}

    out = dict(payload)
    out["state_dict"] = cast(payload["state_dict"])
    training = dict(payload["training"])
    optimizer = dict(training["optimizer"])
    optimizer["state"] = {
        key: {k: (v.to(moments) if k in _COMPACT_MOMENTS else v) for k, v in state.items()}
        for key, state in optimizer["state"].items()
    }
    training["optimizer"] = optimizer
    if training.get("averaged") is not None:  # a moving average of the weights
        training["averaged"] = cast(training["averaged"])
    out["training"] = training
    return out


def resume_file(folder: str | os.PathLike[str]) -> Path | None:
    """The file a run in ``folder`` continues from: ``last.pt``, else a compact ``resume.pt``, else None."""
    folder = Path(folder)
    for name in (LAST_FILE, COMPACT_FILE):
        if (folder / name).is_file():
            return folder / name
    return None


def learner_from_payload(payload: Mapping[str, Any], source: str = "checkpoint") -> MetaLearner:
    """Rebuild the learner described by a checkpoint payload and load its weights."""
    algo = payload["algo"]
    module = payload.get("module")
    ensure_registered(algo, module if isinstance(module, str) else None)
    if algo not in LEARNERS:
        where = f" ({module})" if isinstance(module, str) else ""
        raise ValueError(
            f"{source} was saved by meta-learner {algo!r}, which is not registered here "
            f"(known: {sorted(LEARNERS)}); import the module that defines it{where} before loading."
        )
    try:
        config = (
            json.loads(payload["config"])
            if isinstance(payload["config"], str)
            else dict(payload["config"])
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{source} has an unreadable learner config ({exc}); save it again."
        ) from exc
    try:
        learner = build_learner(algo, **config)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{source}: could not rebuild {algo!r} from its stored config {config} ({exc}). "
            "The checkpoint may come from an incompatible autometa version."
        ) from exc
    try:
        learner.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"{source}: the stored weights do not match the stored config of {algo!r} "
            f"({str(exc).splitlines()[0]} ...). The file was edited or written by an incompatible "
            "version; use another checkpoint."
        ) from exc
    learner.eval()
    return learner


def load_meta_learner(
    path_or_uri: str | os.PathLike[str],
    map_location: Any = "cpu",
    *,
    tracking_uri: str | None = None,
) -> MetaLearner:
    """Load a meta-learner saved by :func:`save_meta_learner` or a :class:`MetaTrainer`.

    Parameters
    ----------
    path_or_uri : path-like or str
        A checkpoint file, a folder holding ``best.pt``/``last.pt`` (a MetaTrainer's
        ``checkpoint_dir``), or an MLflow URI: ``models:/<name>/<version>`` or
        ``runs:/<run_id>/<artifact path>``.
    map_location : str or torch.device
        Where to put the weights (default CPU).
    tracking_uri : str, optional
        MLflow store that MLflow URIs refer to; default ``$MLFLOW_TRACKING_URI``, else the
        local store autometa logs to (:func:`autometa.tracking.default_tracking_uri`).

    Returns
    -------
    MetaLearner
        The learner, in eval mode.

    Raises
    ------
    ValueError
        For a truncated or corrupt file, a file of another format, an unknown algorithm or a
        config/weights mismatch; the message says what to do.
    FileNotFoundError
        If a local path does not exist.
    """
    source = os.fspath(path_or_uri)
    if is_mlflow_uri(source):
        with tempfile.TemporaryDirectory(prefix="autometa-mlflow-") as tmp:
            local = download_model_file(
                source,
                tmp,
                tracking_uri,
                file_name=_ARTIFACT_NAME,
                what="meta-learner checkpoint",
                hint="log one with autometa.meta.log_meta_learner.",
            )
            payload = load_checkpoint(local, map_location=map_location)
    else:
        payload = load_checkpoint(source, map_location=map_location)
    learner = learner_from_payload(payload, source=source)
    if map_location is not None and not callable(map_location):
        learner.to(torch.device(map_location) if isinstance(map_location, str) else map_location)
    return learner


def __getattr__(name: str) -> Any:
    # models logged by early releases pickled an attribute-less ``<this module>.MetaLearnerPyfunc``
    if name == "MetaLearnerPyfunc":
        return legacy_pyfunc_class(__name__, load_meta_learner, predict_proba)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
