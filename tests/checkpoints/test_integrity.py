"""Every shipped weight file is verified on load: one flipped bit anywhere is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from autometa.meta import _integrity
from autometa.meta._checkpoint import read_torch_file

SHIPPED = Path(_integrity.SHIPPED_DIR)
FILES = sorted(p.name for p in SHIPPED.glob("*.pt"))


def _load(path: Path) -> None:
    """Load ``path`` through the reader autometa uses for that file."""
    if path.name == "augment_policy.pt":
        from autometa.augment._policy import load_policy

        load_policy(path)
    elif path.name == "augment_learner.pt":
        from autometa.augment.train import load_companion_learner

        load_companion_learner(path)
    else:
        from autometa.meta._checkpoint import load_checkpoint

        load_checkpoint(path)


def test_every_shipped_file_has_the_sha256_its_model_card_records():
    assert len(FILES) == 7, FILES
    records = _integrity.recorded_hashes()
    for name in FILES:
        assert name in records, f"no model card records a SHA-256 for {name}"
        assert _integrity.file_sha256(SHIPPED / name) == records[name][0], (
            f"{records[name][1]} is stale for {name}"
        )


def test_every_shipped_file_carries_its_own_content_hash():
    import torch

    from autometa.meta._checkpoint import content_hash

    for name in FILES:
        payload = torch.load(SHIPPED / name, map_location="cpu", weights_only=True)
        assert payload.get("content_sha256") == content_hash(payload), name


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of the shipped folder standing in for it (the installed files are never touched)."""
    folder = tmp_path / "checkpoints"
    shutil.copytree(SHIPPED, folder)
    monkeypatch.setattr(_integrity, "SHIPPED_DIR", folder)
    return folder


@pytest.mark.parametrize("name", FILES)
def test_a_flipped_bit_anywhere_in_a_shipped_file_is_refused(shipped_copy, name):
    path = shipped_copy / name
    _load(path)  # the intact copy loads
    original = path.read_bytes()
    rng = np.random.default_rng(0)
    positions = [
        0,
        len(original) // 2,
        len(original) - 1,
        *rng.integers(0, len(original), 5).tolist(),
    ]
    for pos in positions:
        data = bytearray(original)
        data[pos] ^= 1 << int(rng.integers(0, 8))
        path.write_bytes(bytes(data))
        with pytest.raises(
            ValueError, match=rf"{name} failed its integrity check.*Reinstall autometa"
        ):
            _load(path)
    path.write_bytes(original)
    _load(path)


def test_a_shipped_file_no_card_records_is_refused(shipped_copy):
    extra = shipped_copy / "unrecorded.pt"
    shutil.copy(shipped_copy / "regressor_maml.pt", extra)
    with pytest.raises(ValueError, match="no SHA-256 in any model card"):
        read_torch_file(extra)


def test_files_outside_the_shipped_folder_are_not_checked_against_the_cards(tmp_path):
    copy = tmp_path / "regressor_maml.pt"
    shutil.copy(SHIPPED / "regressor_maml.pt", copy)
    read_torch_file(copy)  # loads: a user's own copy is verified by its content hash only
