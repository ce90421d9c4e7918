"""Provenance of a shipped file, for its model card: the file's SHA-256 and the code's git commit.

Every recipe that writes a file into ``autometa/checkpoints`` (the classifier's stages, the
in-context campaigns' exports, the MAML regressor, the augmentation policy) records the same
two facts the same way.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["git_commit", "learner_card", "sha256_file"]


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of the bytes of ``path``."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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


def learner_card(learner: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The head of a shipped learner's model card: file, sha256, commit, algorithm, config, size.

    ``learner`` is the meta-learner saved at ``path`` (its ``algo``, ``get_config()`` and
    ``parameters()`` are read).
    """
    return {
        "file": Path(path).name,
        "sha256": sha256_file(path),
        "code_version": {"git_commit": git_commit()},
        "algo": learner.algo,
        "config": learner.get_config(),
        "parameters": int(sum(p.numel() for p in learner.parameters())),
    }
