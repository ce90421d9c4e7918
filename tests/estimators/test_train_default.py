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
    facts = train_default.train_neural(
        2, 0, tmp_path, tracking=False, kind="hypernet+augment", ship=None
    )
    assert facts["steps"] == 2 and facts["file"] is None and facts["learner"] == "hypernet+augment"
    assert (tmp_path / "last.pt").is_file()
    # nothing shipped changed
    assert {p.name: p.stat().st_mtime for p in train_default.CHECKPOINT_DIR.iterdir()} == before


def test_neural_stage_freezes_its_policy_and_ships_the_bare_learner(tmp_path):
    from autometa.meta import load_meta_learner

    learner = train_default.build_neural_learner("meta-lstm+augment")
    assert not any(p.requires_grad for p in learner.policy.parameters())  # a fixed augmentation
    assert all(p.requires_grad for p in learner.base.parameters())
    train_default.train_neural(1, 0, tmp_path, tracking=False, kind="meta-lstm+augment", ship=None)
    shipped = train_default.strip_policy(tmp_path / "last.pt", tmp_path / "shipped.pt")
    trained, bare = load_meta_learner(tmp_path / "last.pt"), load_meta_learner(shipped)
    assert bare.algo == "meta-lstm" and not hasattr(bare, "policy")
    for k, v in bare.state_dict().items():
        assert torch.equal(v, trained.base.state_dict()[k])


def _records(names, seed=0):
    import numpy as np

    from autometa.estimators import meta_features

    rng = np.random.default_rng(seed)
    out = []
    for i, name in enumerate(names * 3):
        y = rng.integers(0, 2, size=40)
        good = np.eye(2)[y] * 0.7 + 0.15
        out.append({"name": name, "y": y, "z": meta_features(20 + 10 * i, 5, 2, 0, np.array([10, 10]), 0.0),
                    "proba": {"rf": good, "lr": rng.dirichlet([1, 1], size=40)}})  # fmt: skip
    return out


def test_validation_holds_out_whole_data_set_families():
    names = [
        "keel-imb/yeast3",
        "keel-imb/yeast4",
        "keel/banana",
        "keel/ring",
        "keel/titanic",
        "keel/chess",
    ]
    records = _records(names)
    folds = train_default.family_folds(records, 3, seed=0)
    assert set().union(*folds) == {"yeast", "banana", "ring", "titanic", "chess"}
    assert sum(len(f) for f in folds) == 5  # disjoint; yeast3 and yeast4 are one family
    gains = train_default.select_l2(records, [1.0, 0.001], seed=0)
    # the blend that learns to trust the informative member beats uniform weights more when
    # it is allowed to move away from them
    assert gains[0.001] > gains[1.0] > -1e-3
