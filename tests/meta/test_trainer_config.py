"""MetaTrainer's grouped settings, public run state, on_checkpoint hook and compact resume files."""

from __future__ import annotations

import inspect
import sys
import warnings
from pathlib import Path

import pytest
import torch

from autometa.meta import (
    CheckpointConfig,
    MetaTrainer,
    OptimizerConfig,
    ScheduleConfig,
    TrackingConfig,
    ValidationConfig,
)
from autometa.meta._checkpoint import (
    COMPACT_FILE,
    LAST_FILE,
    compact_payload,
    expand_payload,
    load_checkpoint,
)

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import BlobPool, LinearMAML  # noqa: E402


def grouped(folder=None, **kw) -> MetaTrainer:
    kw.setdefault("checkpoints", CheckpointConfig(folder, every=3) if folder is not None else None)
    return MetaTrainer(
        LinearMAML(), BlobPool(), meta_batch_size=4, progress=False, tracking=False,
        optimizer=OptimizerConfig("adam", lr=0.05), validation=ValidationConfig(BlobPool(name="val"), every=5, tasks=8),
        **kw,
    )  # fmt: skip


def test_at_most_twelve_constructor_arguments():
    params = [
        p for p in inspect.signature(MetaTrainer.__init__).parameters.values() if p.name != "self"
    ]
    named = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    assert len(named) <= 12, [p.name for p in named]


def test_flat_keywords_still_work_with_a_deprecation_warning_and_the_same_settings(tmp_path):
    with pytest.warns(DeprecationWarning, match="deprecated"):
        old = MetaTrainer(
            LinearMAML(), BlobPool(), meta_batch_size=4, lr=0.05, val_pool=BlobPool(name="val"), eval_every=5,
            val_tasks=8, tracking=False, progress=False, checkpoint_dir=tmp_path, checkpoint_every=3,
        )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = grouped(tmp_path)
    assert old.config() == new.config()
    with pytest.raises(TypeError, match="unexpected keyword"):
        MetaTrainer(LinearMAML(), BlobPool(), learning_rate=0.1)
    with pytest.raises(ValueError, match="patience"):
        ValidationConfig(patience=2)
    with pytest.raises(ValueError, match="optimizer='lion'"):
        OptimizerConfig("lion")
    with pytest.raises(ValueError, match="decay_window"):
        ScheduleConfig(decay_window=(5, 5))


def test_shorthands_equal_the_configs(tmp_path):
    short = MetaTrainer(
        LinearMAML(), BlobPool(), optimizer="sgd", tracking=False, checkpoints=tmp_path
    )
    assert short.optimizer == OptimizerConfig("sgd") and short.tracking == TrackingConfig(
        enabled=False
    )
    assert short.checkpoints == CheckpointConfig(tmp_path)


def test_on_checkpoint_sees_public_state_and_can_stop_without_storing_the_stop(tmp_path):
    seen = []

    def hook(trainer: MetaTrainer) -> bool:
        seen.append((trainer.step, len(trainer.history), trainer.device.type))
        return trainer.step >= 6

    result = grouped(tmp_path).fit(None, on_checkpoint=hook)
    assert seen == [(3, 3, "cpu"), (6, 6, "cpu")] and result.steps == 6 and not result.stopped_early
    assert load_checkpoint(tmp_path / LAST_FILE)["training"]["step"] == 6
    # the stop was the hook's, not early stopping: the run goes on when resumed, exactly as one run
    resumed = grouped(tmp_path).fit(12, resume=True)
    whole = grouped(tmp_path / "whole").fit(12)
    for a, b in zip(resumed.learner.parameters(), whole.learner.parameters(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(ValueError, match="on_checkpoint"):
        grouped(tmp_path / "x").fit(None)


def test_compact_files_are_an_option_and_resume_a_fresh_clone(tmp_path):
    grouped(tmp_path, checkpoints=CheckpointConfig(tmp_path, every=3, compact=True)).fit(6)
    last, compact = tmp_path / LAST_FILE, tmp_path / COMPACT_FILE
    small = load_checkpoint(compact)
    assert all(
        v.dtype == torch.float16 for v in small["state_dict"].values() if v.is_floating_point()
    )
    moments = [
        v
        for st in small["training"]["optimizer"]["state"].values()
        for k, v in st.items()
        if k.startswith("exp_avg")
    ]
    assert moments and all(v.dtype == torch.bfloat16 for v in moments)
    full = load_checkpoint(last)
    assert expand_payload(compact_payload(full))["state_dict"].keys() == full["state_dict"].keys()
    last.unlink()  # a fresh clone has only the committed compact file
    trainer = grouped(tmp_path, checkpoints=CheckpointConfig(tmp_path, every=3, compact=True))
    result = trainer.fit(9, resume=True)
    assert result.resumed_from == 6 and result.steps == 9 and trainer.step == 9
    grouped(tmp_path / "plain").fit(3)
    assert (tmp_path / "plain" / LAST_FILE).is_file() and not (
        tmp_path / "plain" / COMPACT_FILE
    ).exists()
