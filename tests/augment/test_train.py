"""The training command that produces the shipped policy, on a tiny budget."""

from __future__ import annotations

import hashlib
import json

import pytest

from autometa.augment import MetaAugmenter, load_policy
from autometa.augment.train import load_companion_learner, main


@pytest.mark.slow
def test_train_command_writes_policy_learner_and_card(tmp_path):
    out = tmp_path / "augment_policy.pt"
    tiny = [
        "--tasks-per-batch",
        "2",
        "--val-batches",
        "1",
        "--d-max",
        "8",
        "--hidden",
        "8",
        "--no-mlflow",
    ]
    assert main(["--out", str(out), "--learner-steps", "2", "--policy-steps", "2", *tiny]) == 0
    card = json.loads((tmp_path / "augment_model_card.json").read_text())
    assert card["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert (
        card["policy"]["meta_training_steps"] == 2
        and card["companion_learner"]["meta_training_steps"] == 2
    )
    assert set(card["metrics"]["meta_validation"]) == {"none", "uniform", "learned"}
    assert "python -m autometa.augment.train" in card["command"]
    policy, meta = load_policy(out)
    assert meta["learner_file"] == "augment_learner.pt"
    X, y = [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [1.0, 1.0]], [0, 1, 0, 1]
    assert 4 < len(MetaAugmenter(policy=str(out), random_state=0).fit_resample(X, y)[0]) <= 12

    # phase 2 only, for a given learner and a longer adaptation
    out2 = tmp_path / "second" / "augment_policy.pt"
    learner_path = tmp_path / "augment_learner.pt"
    args = [
        "--out",
        str(out2),
        "--learner",
        str(learner_path),
        "--adapt-steps",
        "3",
        "--policy-steps",
        "1",
        *tiny,
    ]
    assert main(args) == 0
    assert load_companion_learner(out2.with_name("augment_learner.pt")).inner_steps == 3
