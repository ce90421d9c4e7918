"""Model cards of shipped files: the file's SHA-256, the code's git commit, the command.

Every recipe that writes a file into ``autometa/checkpoints`` (the classifier's stages, the
in-context campaigns' exports, the MAML regressor, the regressor's blend, the augmentation
policy, the sampler's knowledge) writes its card with :func:`write_card`, which records the
file and its hash the same way; :func:`learner_facts` and :func:`recipe_command` give the
other facts every card shares. The recipe adds its own (data, compute, metrics).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "file_facts",
    "git_commit",
    "learner_facts",
    "recipe_command",
    "record_hash",
    "sha256_file",
    "sync_hash",
    "write_card",
]


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the bytes of ``path`` (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit() -> str | None:
    """The commit of the autometa source tree that runs (None outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def file_facts(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{"file": name, "sha256": hash}`` of a shipped file, as every card records it."""
    return {"file": Path(path).name, "sha256": sha256_file(path)}


def learner_facts(learner: Any) -> dict[str, Any]:
    """A shipped meta-learner's facts: code commit, algorithm, config, parameter count.

    ``learner`` is the meta-learner that was saved (its ``algo``, ``get_config()`` and
    ``parameters()`` are read).
    """
    return {
        "code_version": {"git_commit": git_commit()},
        "algo": learner.algo,
        "config": learner.get_config(),
        "parameters": int(sum(p.numel() for p in learner.parameters())),
    }


def recipe_command(module: str, argv: Sequence[str] | None) -> str:
    """The command line that ran a recipe: ``python -m module`` and its (shell-quoted) arguments."""
    args = argv if argv is not None else sys.argv[1:]
    return f"python -m {module} " + " ".join(shlex.quote(a) for a in args)


def write_card(
    card: str | os.PathLike[str],
    shipped: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    facts: dict[str, Any],
    *,
    name: str | None = None,
    indent: int = 1,
    sort_keys: bool = False,
) -> dict[str, Any]:
    """Write the model card of the shipped file(s) ``shipped`` to ``card`` (JSON) and return it.

    For one file the card is ``{"name": name}`` (when given), the file's name and SHA-256
    (:func:`file_facts`), then the recipe's ``facts`` (data, compute, metrics, command). For a
    sequence of files (one card for several, as ``model_card.json`` for the classifier's
    stages) it is the name, the ``facts``, then ``"sha256"``: ``{file name: SHA-256}`` of those
    that exist.

    Parameters
    ----------
    card : path
        Where the card goes (next to the shipped file by convention, ``*model_card*.json``:
        :func:`autometa.meta._integrity.verify_shipped` checks the hashes of such cards).
    shipped : path or sequence of paths
        The shipped file(s), already written.
    facts : dict
        The recipe's facts: JSON values (NumPy numbers and arrays are written as plain ones,
        anything else JSON cannot write as its ``str``).
    name : str, optional
        A title for the card.
    indent, sort_keys
        JSON layout (each card keeps the layout it was first shipped with).
    """
    head = {"name": name} if name is not None else {}
    if isinstance(shipped, (str, os.PathLike)):
        out = {**head, **file_facts(shipped), **facts}
    else:
        hashes = {Path(p).name: sha256_file(p) for p in shipped if Path(p).is_file()}
        out = {**head, **facts, "sha256": hashes}
    text = json.dumps(out, indent=indent, sort_keys=sort_keys, default=_plain)
    Path(card).write_text(text + "\n")
    return out


def sync_hash(shipped: str | os.PathLike[str]) -> list[str]:
    """Write the current SHA-256 of ``shipped`` into every model card beside it
    (``*model_card*.json``) that records one for it at its top level; return those cards' names.

    A file can be named in two cards (``classifier_in_context.pt`` in its own card and in
    ``model_card.json``'s ``"sha256"`` map); loading refuses cards that disagree, so whatever
    rewrites the file calls this after writing its own card.
    """
    shipped = Path(shipped)
    synced = []
    for card in sorted(shipped.parent.glob("*model_card*.json")):
        data = json.loads(card.read_text())
        recorded = data.get("sha256")
        if data.get("file") == shipped.name or (
            isinstance(recorded, dict) and shipped.name in recorded
        ):
            record_hash(card, shipped)
            synced.append(card.name)
    return synced


def record_hash(card: str | os.PathLike[str], shipped: str | os.PathLike[str]) -> str:
    """Write the current SHA-256 of ``shipped`` into the existing card that records it; return it.

    For a file whose card is shared with others (``model_card.json``'s ``"sha256"`` map) and
    that its own recipe rewrites, such as ``classifier_combiner.json``. The card keeps its other
    content (JSON with ``indent=1``).

    Raises
    ------
    ValueError
        When ``card`` records no hash for that file.
    """
    data = json.loads(Path(card).read_text())
    name = Path(shipped).name
    if data.get("file") == name:
        data["sha256"] = sha = sha256_file(shipped)
    elif isinstance(data.get("sha256"), dict) and name in data["sha256"]:
        data["sha256"][name] = sha = sha256_file(shipped)
    else:
        raise ValueError(
            f"The model card {card} records no SHA-256 for {name}; write it with write_card."
        )
    Path(card).write_text(json.dumps(data, indent=1, default=_plain) + "\n")
    return sha


def _plain(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python numbers and lists, anything else as its ``str``
    (for ``json.dumps``)."""
    for attr in ("tolist", "item"):
        if callable(getattr(value, attr, None)):
            return getattr(value, attr)()
    return str(value)
