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
``runs:/<run_id>/path``), and :func:`log_meta_learner` logs a learner as an MLflow
``pyfunc`` model whose artifact is such a checkpoint. The MLflow side of both (download,
the pyfunc wrapper, logging and registering) lives in :mod:`autometa.tracking`, imported
inside those two functions because it pulls in mlflow; this module keeps the file format
and the two functions that know meta-learners (:func:`learner_from_payload` and the pyfunc
``predict``).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autometa._version import __version__
from autometa.tasks._task import Task, collate_tasks
from autometa.tracking import download_model_file, is_mlflow_uri

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from autometa.meta._base import MetaLearner

__all__ = [
    "CHECKPOINT_FORMAT",
    "BEST_FILE",
    "CHECKPOINT_VERSION",
    "COMPACT_FILE",
    "CURVE_FILE",
    "LAST_FILE",
    "LoggedMetaLearner",
    "atomic_torch_save",
    "checkpoint_lock",
    "compact_payload",
    "content_hash",
    "expand_payload",
    "learner_from_payload",
    "load_checkpoint",
    "load_meta_learner",
    "log_meta_learner",
    "make_payload",
    "predict_proba",
    "resume_file",
    "save_meta_learner",
    "to_json",
]

CHECKPOINT_FORMAT = "autometa.meta-learner"
CHECKPOINT_VERSION = 1
_ARTIFACT_NAME = "meta_learner.pt"
#: the files of a checkpoint folder: the latest training state, the best by meta-validation,
#: the compact training state (:func:`compact_payload`) and the learning-curve plot
LAST_FILE, BEST_FILE, COMPACT_FILE, CURVE_FILE = "last.pt", "best.pt", "resume.pt", "learning_curve.png"
#: optimizer moments stored as bf16 in a compact file (Adam/AdamW's first and second moments)
_COMPACT_MOMENTS = ("exp_avg", "exp_avg_sq")


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint payload, its ``"content_sha256"`` field excluded.

    Covers every tensor's dtype, shape and bytes and every key, string and number, in a
    canonical order, so the same content hashes the same on any device and in any process.
    """
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != "content_sha256"})
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, Mapping):
        h.update(f"D{len(obj)}".encode())
        for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
            _feed(h, k)
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(f"L{len(obj)}".encode())
        for v in obj:
            _feed(h, v)
    elif isinstance(obj, (bytes, bytearray)):
        h.update(b"B%d" % len(obj))
        h.update(bytes(obj))
    else:
        text = repr(obj).encode()
        h.update(f"S{type(obj).__name__}{len(text)}".encode())
        h.update(text)


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
    import torch

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
            kept = "the previous checkpoint there is unchanged" if path.exists() else "nothing was written"
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
    import numpy as np

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
        If the file is truncated, corrupt, not a torch archive, or holds pickled Python objects.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}.")
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
        if isinstance(payload, dict) and payload and all(hasattr(v, "shape") for v in payload.values()):
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
        raise ValueError(f"{path} is an incomplete autometa checkpoint: missing {missing}; save it again.")
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
    import torch

    out = dict(payload)
    out["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    training = dict(payload["training"])
    optimizer = dict(training["optimizer"])
    optimizer["state"] = {
        key: {k: (v.to(torch.bfloat16) if k in _COMPACT_MOMENTS else v) for k, v in state.items()}
        for key, state in optimizer["state"].items()
    }
    training["optimizer"] = optimizer
    training["history"] = json.dumps(json.loads(training["history"])[-int(history_tail) :])
    if training.get("averaged") is not None:  # a moving average of the weights: fp16 as well
        training["averaged"] = {k: v.half() if v.is_floating_point() else v for k, v in training["averaged"].items()}
    out["training"] = training
    return out


def expand_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`compact_payload`: weights and moments back in float32."""
    out = dict(payload)
    out["state_dict"] = {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    training = dict(payload["training"])
    optimizer = dict(training["optimizer"])
    optimizer["state"] = {
        key: {k: (v.float() if k in _COMPACT_MOMENTS else v) for k, v in state.items()}
        for key, state in optimizer["state"].items()
    }
    training["optimizer"] = optimizer
    if training.get("averaged") is not None:
        training["averaged"] = {k: v.float() if v.is_floating_point() else v for k, v in training["averaged"].items()}
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
    from autometa.meta._base import LEARNERS, build_learner, ensure_registered

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
        config = json.loads(payload["config"]) if isinstance(payload["config"], str) else dict(payload["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source} has an unreadable learner config ({exc}); save it again.") from exc
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
        import torch

        learner.to(torch.device(map_location) if isinstance(map_location, str) else map_location)
    return learner


def _legacy_pyfunc_class() -> type:
    """The class models logged before the pyfunc wrapper moved to tracking were pickled as.

    Their pickles name ``autometa.meta._checkpoint.MetaLearnerPyfunc`` and hold no attributes;
    this subclass of :class:`autometa.tracking.MetaLearnerPyfunc` supplies the loader and the
    predictor as class attributes, so those models still load and predict.
    """
    cached = globals().get("MetaLearnerPyfunc")
    if cached is not None:
        return cached
    from autometa.tracking import (
        MetaLearnerPyfunc as TrackingPyfunc,  # mlflow.pyfunc is slow to import
    )

    legacy = type(
        "MetaLearnerPyfunc",
        (TrackingPyfunc,),
        {
            "__module__": __name__,
            "__doc__": TrackingPyfunc.__doc__,
            "loader": staticmethod(load_meta_learner),
            "predictor": staticmethod(predict_proba),
        },
    )
    globals()["MetaLearnerPyfunc"] = legacy  # a module attribute: pickles refer to it by name
    return legacy


def __getattr__(name: str) -> Any:
    if name == "MetaLearnerPyfunc":
        return _legacy_pyfunc_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def predict_proba(learner: MetaLearner, model_input: Mapping[str, Any]) -> Any:
    """Adapt ``learner`` to ``model_input``'s support set; class probabilities of its queries.

    What the pyfunc model's ``predict`` answers: ``model_input`` holds ``x_support`` ``[n, d]``,
    ``y_support`` ``[n]`` (ints in ``range(n_classes)``) and ``x_query`` ``[m, d]`` with
    ``d <= d_max``; the result is an ``[m, n_classes]`` array.
    """
    import numpy as np
    import torch


    d, c = learner_dims(learner)
    d_max, c_max = int(d), int(c)
    xs = np.asarray(model_input["x_support"], dtype=np.float32)
    ys = np.asarray(model_input["y_support"]).astype(np.int64)
    xq = np.asarray(model_input["x_query"], dtype=np.float32)
    d = xs.shape[1]
    if d > d_max or xq.shape[1] != d:
        raise ValueError(f"x_support and x_query need the same width <= d_max={d_max}; got {d}, {xq.shape[1]}.")
    n_classes = int(ys.max()) + 1

    def widen(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.concatenate([a, np.zeros((a.shape[0], d_max - d), np.float32)], axis=1))

    mask = torch.zeros(d_max, dtype=torch.bool)
    mask[:d] = True
    task = Task(widen(xs), torch.from_numpy(ys), widen(xq), torch.zeros(len(xq), dtype=torch.long), mask, n_classes)
    batch = collate_tasks([task], c_max=c_max)
    with torch.enable_grad():
        fast = learner.adapt(batch)
    with torch.no_grad():
        logits = learner.predict(fast, batch.x_query, batch)[0, :, :n_classes]
    return torch.softmax(logits.float(), dim=-1).numpy()


def learner_dims(learner: MetaLearner) -> tuple[int | None, int | None]:
    """``(d_max, c_max)`` of a learner, read from its (possibly nested) config or attributes.

    The config is searched breadth-first for a mapping with ``c_max`` (a base-net config such
    as ``{"kind": "mlp", "d_max": 32, "c_max": 10}``, also inside wrappers such as
    ``{"base": {"config": {"net": ...}}}``).
    """
    queue: list[Any] = [learner.get_config()]
    while queue:
        node = queue.pop(0)
        if isinstance(node, Mapping):
            if "c_max" in node:
                d = node.get("d_max")
                if d is None and "image_shape" in node:
                    c, h, w = node["image_shape"]
                    d = int(c) * int(h) * int(w)
                return (int(d) if d is not None else None, int(node["c_max"]))
            queue.extend(v for v in node.values() if isinstance(v, Mapping))
    d, c = getattr(learner, "d_max", None), getattr(learner, "c_max", None)
    return (int(d) if d is not None else None, int(c) if c is not None else None)


@dataclass(frozen=True)
class LoggedMetaLearner:
    """Where :func:`log_meta_learner` put a learner.

    Attributes
    ----------
    model_uri : str
        ``runs:/<run_id>/<name>``: loads with :func:`load_meta_learner` or ``mlflow.pyfunc.load_model``.
    run_id : str
    registered_model_name : str or None
    version : str or None
        The registry version (``models:/<registered_model_name>/<version>``), when registered.
    """

    model_uri: str
    run_id: str
    registered_model_name: str | None = None
    version: str | None = None

    @property
    def registered_model_uri(self) -> str | None:
        if self.registered_model_name is None or self.version is None:
            return None
        return f"models:/{self.registered_model_name}/{self.version}"


def log_meta_learner(
    learner: MetaLearner,
    name: str = "model",
    *,
    registered_model_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
) -> LoggedMetaLearner:
    """Log ``learner`` as an MLflow ``pyfunc`` model (the checkpoint is its artifact).

    Parameters
    ----------
    learner : MetaLearner
    name : str
        Artifact folder of the model inside the run; load it back with
        ``load_meta_learner("runs:/<run_id>/<name>")`` or, when registered, with
        ``load_meta_learner("models:/<registered_model_name>/<version>")``.
    registered_model_name : str, optional
        Also register the model in the MLflow model registry under this name (a new version
        of it when the name exists).
    metadata : mapping, optional
        Stored in the checkpoint and as the model's metadata.
    run_id : str, optional
        Log into this existing run; by default the active MLflow run, else a new run.
    tracking_uri : str, optional
        The store of ``run_id``; by default the MLflow client's current tracking URI.

    Returns
    -------
    LoggedMetaLearner
        The model URI, and the registry version when registered.

    Notes
    -----
    The pyfunc flavour's ``predict`` takes ``{"x_support", "y_support", "x_query"}`` (already
    encoded features, width at most ``d_max``) and returns query class probabilities.
    """
    import torch

    from autometa.tracking import (  # mlflow.pyfunc is slow to import
        MetaLearnerPyfunc,
        log_pyfunc_model,
    )

    def write_artifacts(folder: Path) -> dict[str, str]:
        return {"meta_learner": str(save_meta_learner(learner, folder / _ARTIFACT_NAME, metadata=metadata))}

    info = log_pyfunc_model(
        MetaLearnerPyfunc(load_meta_learner, predict_proba),
        write_artifacts,
        name,
        what="the meta-learner",
        pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"autometa=={__version__}"],
        metadata={"algo": str(getattr(learner, "algo", None)), **{k: str(v) for k, v in (metadata or {}).items()}},
        registered_model_name=registered_model_name,
        run_id=run_id,
        tracking_uri=tracking_uri,
    )
    return LoggedMetaLearner(info.model_uri, info.run_id, info.registered_model_name, info.version)
