"""The provenance facts every shipped file's model card records."""

from __future__ import annotations

import hashlib

from autometa._provenance import git_commit, sha256_file


def test_sha256_and_commit(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"autometa")
    assert sha256_file(path) == hashlib.sha256(b"autometa").hexdigest()
    commit = git_commit()
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)
