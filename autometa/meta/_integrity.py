"""Integrity of the shipped files: each one's SHA-256 is recorded in its model card and checked on load.

Every weight file in ``autometa/checkpoints`` has the SHA-256 of its bytes written in a model
card of that folder (``model_card.json``'s ``"sha256"`` map, or a card's ``"file"`` /
``"sha256"`` pair, also nested, as for the augmentation policy's companion learner). Every
reader of a shipped file (:func:`autometa.meta._checkpoint.read_torch_file`, the augmentation
policy and its companion learner) calls :func:`verify_shipped` first, so a file changed or
corrupted after installation (one flipped bit anywhere) is refused with an error naming the file
and what to do, instead of loading silently changed weights. Files outside that folder are not
affected (their own ``"content_sha256"`` is checked by
:func:`~autometa.meta._checkpoint.load_checkpoint`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from autometa._provenance import sha256_file

__all__ = [
    "SHIPPED_DIR",
    "content_hash",
    "file_sha256",
    "recorded_hashes",
    "verify_payload",
    "verify_shipped",
]


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint payload, its ``"content_sha256"`` field excluded.

    Covers every tensor's dtype, shape and bytes and every key, string and number, in a
    canonical order, so the same content hashes the same on any device and in any process.
    """
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != "content_sha256"})
    return h.hexdigest()


def _feed(h: Any, obj: Any) -> None:
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


#: the folder of the shipped weights and their model cards
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints"


#: SHA-256 (hex) of a file's bytes (the same function every model card is written with)
file_sha256 = sha256_file


def _records(card: Any) -> Iterator[tuple[str, str]]:
    if isinstance(card, Mapping):
        sha = card.get("sha256")
        if isinstance(card.get("file"), str) and isinstance(sha, str):
            yield card["file"], sha
        if isinstance(sha, Mapping):
            yield from ((str(k), str(v)) for k, v in sha.items())
        for value in card.values():
            if isinstance(value, Mapping):
                yield from _records(value)


def recorded_hashes(folder: str | os.PathLike[str] | None = None) -> dict[str, tuple[str, str]]:
    """File name -> (SHA-256, model card recording it), from every ``*model_card*.json`` of ``folder``.

    Raises
    ------
    ValueError
        When two cards record different hashes for one file.
    """
    folder = Path(folder) if folder is not None else SHIPPED_DIR
    out: dict[str, tuple[str, str]] = {}
    for card in sorted(folder.glob("*model_card*.json")):
        for name, sha in _records(json.loads(card.read_text())):
            if name in out and out[name][0] != sha:
                raise ValueError(
                    f"Model cards {out[name][1]} and {card.name} record different SHA-256s for {name}; "
                    "one of them is stale: write the file's actual hash (sha256sum) into both."
                )
            out[name] = (sha, card.name)
    return out


def verify_shipped(path: str | os.PathLike[str]) -> None:
    """Refuse a shipped file whose bytes differ from the SHA-256 recorded in its model card.

    A no-op for files outside :data:`SHIPPED_DIR`.

    Raises
    ------
    ValueError
        When the file's SHA-256 differs from its model card's, or no card records one.
    """
    path = Path(path).resolve()
    folder = SHIPPED_DIR.resolve()
    if path.parent != folder:
        return
    record = recorded_hashes(folder).get(path.name)
    restore = (
        f"Reinstall autometa (pip install --force-reinstall --no-deps autometa) or, in a source checkout, "
        f"restore it with `git checkout -- autometa/checkpoints/{path.name}`."
    )
    if record is None:
        raise ValueError(
            f"The shipped file {path} has no SHA-256 in any model card of {folder}, so it cannot be "
            f"verified and is not loaded. {restore} A retrained file must have its card updated "
            "(the training commands write it)."
        )
    expected, card = record
    actual = file_sha256(path)
    if actual != expected:
        raise ValueError(
            f"The shipped file {path} failed its integrity check: its SHA-256 is {actual[:16]}..., "
            f"but {card} records {expected[:16]}.... The file was changed or corrupted after "
            f"installation and is not loaded. {restore}"
        )


def verify_payload(payload: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Check a payload's own ``"content_sha256"`` when it has one (any autometa tensor file).

    Raises
    ------
    ValueError
        When the stored hash differs from the payload's content.
    """
    stored = payload.get("content_sha256")
    if stored is None:
        return
    actual = content_hash(payload)
    if stored != actual:
        raise ValueError(
            f"{path} failed its integrity check: its content no longer matches the SHA-256 stored when "
            f"it was saved ({str(stored)[:12]}... != {actual[:12]}...). The file was changed or corrupted "
            "on disk; use another copy or save it again."
        )
