"""Checkpoint integrity: content hash, write-then-rename under faults, locks, torch's unsafe hint."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from autometa.meta import _checkpoint, load_meta_learner, save_meta_learner
from autometa.meta._checkpoint import checkpoint_lock, content_hash, load_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import LinearMAML  # noqa: E402
from test_trainer import make_trainer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "autometa" / "checkpoints").glob("classifier_*.pt"))


def _flip_bit_in_tensor_data(path: Path, tensor: torch.Tensor) -> None:
    data = bytearray(path.read_bytes())
    at = data.find(tensor.detach().numpy().tobytes()[:16])
    assert at > 0, "tensor bytes not found in the archive"
    data[at + 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_hash_is_stored_and_a_flipped_bit_is_caught(tmp_path):
    learner = LinearMAML()
    path = save_meta_learner(learner, tmp_path / "m.pt")
    payload = load_checkpoint(path)
    assert payload["content_sha256"] == content_hash(payload)
    _flip_bit_in_tensor_data(path, learner.weight)
    payload = torch.load(path, weights_only=True)  # torch itself does not notice
    assert not torch.equal(payload["state_dict"]["weight"], learner.weight.detach())
    with pytest.raises(
        ValueError, match=rf"{path.name} failed its integrity check.*changed or corrupted"
    ):
        load_meta_learner(path)


def test_file_without_hash_loads_and_gets_one_when_saved_again(tmp_path):
    path = save_meta_learner(LinearMAML(), tmp_path / "old.pt")
    payload = torch.load(path, weights_only=True)
    del payload["content_sha256"]
    torch.save(payload, path)  # as written before the hash existed
    learner = load_meta_learner(path)
    assert "content_sha256" not in load_checkpoint(path)
    save_meta_learner(learner, path)
    assert load_checkpoint(path)["content_sha256"] == content_hash(load_checkpoint(path))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_checkpoints_still_load(path):
    assert load_meta_learner(path) is not None


def test_pickled_objects_never_surface_torchs_weights_only_hint(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": "autometa.meta-learner", "obj": Fraction(1, 3)}, path)  # not weights-only
    with pytest.raises(ValueError) as info:
        load_meta_learner(path)
    text = str(info.value)
    assert "refuses to unpickle" in text and "evil.pt" in text
    assert "weights_only" not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_meta_learner(LinearMAML(init_seed=1), tmp_path / "m.pt")
    before = path.read_bytes()

    def half_write_then_enospc(obj, fh, *args, **kwargs):
        fh.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", half_write_then_enospc)
    with pytest.raises(
        OSError,
        match=r"Saving the checkpoint .*m.pt failed \(No space left on device\); the previous",
    ):
        save_meta_learner(LinearMAML(init_seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_meta_learner(path).init_seed == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temporary file left behind


def _deny(monkeypatch, what: str) -> None:
    real_open, real_mkstemp = os.open, _checkpoint.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    def open_(path, *args, **kwargs):
        if str(path).endswith(".autometa.lock"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(path, *args, **kwargs)

    if what == "save":
        monkeypatch.setattr(_checkpoint.tempfile, "mkstemp", mkstemp)
    else:
        monkeypatch.setattr(_checkpoint.os, "open", open_)
    assert real_mkstemp is not None


def test_read_only_folder_gives_a_clear_error(tmp_path, monkeypatch):
    # (the tests may run as root, which ignores file modes, so the OS refusal is simulated)
    _deny(monkeypatch, "save")
    with pytest.raises(
        PermissionError, match=r"Cannot write the checkpoint .*m.pt: the folder .* is not writable"
    ):
        save_meta_learner(LinearMAML(), tmp_path / "m.pt")


def test_read_only_folder_stops_meta_training_before_it_starts(tmp_path, monkeypatch):
    _deny(monkeypatch, "lock")
    trainer = make_trainer(tmp_path)
    with pytest.raises(
        PermissionError,
        match=r"Cannot meta-train into .*ckpt: the checkpoint folder is not writable",
    ):
        trainer.fit(3)
    assert trainer._step == 0


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from autometa.meta._checkpoint import checkpoint_lock
    with checkpoint_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def _hold_lock(folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_refuses_to_train_into_a_locked_folder(tmp_path):
    folder = tmp_path / "ckpt"
    holder = _hold_lock(folder)
    try:
        with pytest.raises(
            RuntimeError, match=rf"in use by another meta-training process \(pid {holder.pid}\)"
        ):
            make_trainer(tmp_path).fit(3)
        assert not (folder / "last.pt").exists()  # nothing interleaved
    finally:
        holder.kill()
        holder.wait()


def test_lock_of_a_killed_process_does_not_block_resume(tmp_path):
    folder = tmp_path / "ckpt"
    holder = _hold_lock(folder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    t0 = time.monotonic()
    result = make_trainer(tmp_path).fit(3, resume=True)
    assert result.steps == 3 and (folder / "last.pt").is_file()
    assert time.monotonic() - t0 < 60  # no waiting on a stale lock


def test_lock_is_released_after_training(tmp_path):
    make_trainer(tmp_path).fit(2)
    with checkpoint_lock(tmp_path / "ckpt"):
        pass
