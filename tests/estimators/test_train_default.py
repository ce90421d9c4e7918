"""The recipe of the shipped classifier checkpoints (a few steps, nothing shipped)."""

from __future__ import annotations

import pytest
import torch

from autometa.estimators import train_default


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind", sorted(train_default.LEARNERS))
def test_every_recipe_learner_builds_for_the_classifier_shapes(kind):
    learner = train_default.build_neural_learner(kind)
    from autometa.meta._checkpoint import learner_dims

    assert learner_dims(learner) == (train_default.D_MAX, train_default.C_MAX)
    with pytest.raises(ValueError, match="unknown learner"):
        train_default.build_neural_learner("maml++")


def test_a_short_unshipped_run_reports_its_facts(tmp_path):
    before = {p.name: p.stat().st_mtime for p in train_default.CHECKPOINT_DIR.iterdir()}
    facts = train_default.train_neural(2, 0, tmp_path, tracking=False, kind="hypernet+augment", ship=None)
    assert facts["steps"] == 2 and facts["file"] is None and facts["learner"] == "hypernet+augment"
    assert (tmp_path / "last.pt").is_file()
    # nothing shipped changed
    assert {p.name: p.stat().st_mtime for p in train_default.CHECKPOINT_DIR.iterdir()} == before
