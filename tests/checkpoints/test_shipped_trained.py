"""The augmentation policy and its companion learner differ from their initialization.

Each is rebuilt the way its training command built it (same config, same torch seed), so a
tensor that never received a gradient would be equal to its rebuilt initialization. This is a
weak check (one optimizer step passes it); the quality tests are ``test_shipped_quality.py``
(the classifier's neural members) and ``test_augment_quality.py`` (the augmentation policy with
its companion learner): each beats its untrained self on validation tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

CHECKPOINTS = Path(__file__).resolve().parents[2] / "autometa" / "checkpoints"


def _untrained(trained: torch.nn.Module, init: torch.nn.Module) -> list[str]:
    init_params = dict(init.named_parameters())
    assert set(init_params) == {k for k, _ in trained.named_parameters()}
    return [
        k for k, p in trained.named_parameters() if torch.equal(p.detach(), init_params[k].detach())
    ]


def test_classifier_default_ships_no_untrained_policy():
    from autometa.meta import load_meta_learner

    learner = load_meta_learner(CHECKPOINTS / "classifier_default.pt")
    assert not hasattr(learner, "policy")
    card = json.loads((CHECKPOINTS / "model_card.json").read_text())
    assert "no augmentation policy" in card["files"]["classifier_default.pt"]


def test_augment_policy_and_companion_learner_are_trained():
    from autometa.augment import AugmentationPolicy, load_policy
    from autometa.augment.train import load_companion_learner
    from autometa.meta import build_learner

    card = json.loads((CHECKPOINTS / "augment_model_card.json").read_text())
    seed = (
        int(card["command"].split("--seed ")[1].split()[0]) if "--seed " in card["command"] else 0
    )
    learner = load_companion_learner(CHECKPOINTS / "augment_learner.pt")
    torch.manual_seed(seed)
    init_learner = build_learner(learner.algo, **card["companion_learner"]["config"])
    init_policy = AugmentationPolicy(
        **{k: v for k, v in card["policy"]["config"].items() if k != "kind"}
    )
    assert _untrained(learner, init_learner) == []
    assert _untrained(load_policy(CHECKPOINTS / "augment_policy.pt")[0], init_policy) == []
