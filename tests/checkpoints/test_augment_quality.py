"""The shipped augmentation policy beats its untrained self on validation tables (and only that).

A smaller copy of ``docs/results/augment_policy_quality.py``: the companion learner adapts on
support sets from :data:`autometa.tasks.roles.AUGMENT_VALIDATION` (never the policy's training,
never evaluation tables) augmented by the policy as its training command builds it before the
first step, and by the shipped policy, with the same tasks and augmentation seeds. Without
meta-training the two policies are the same and the test fails. The shipped policy does *not*
beat no augmentation (docs/augment.md, docs/data.md): the committed JSON must keep saying so.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "results" / "augment_policy_quality.py"


def _script():
    spec = importlib.util.spec_from_file_location("augment_policy_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_policy_beats_its_untrained_self_on_validation_tables():
    losses = _script().batch_losses(n_batches=16)
    gain = losses["untrained"] - losses["shipped"]
    assert gain.mean() > 0.001, gain  # query loss, 128 validation tasks
    assert (gain > 0).sum() >= 11, gain  # of 16 batches (13 when written)


def test_the_committed_comparison_is_what_the_docs_say():
    result = json.loads((ROOT / "docs/results/augment_policy_quality.json").read_text())
    assert result["mean_query_loss"]["shipped"] < result["mean_query_loss"]["untrained"]
    # no better than no augmentation: the docs must not claim a gain over it
    assert abs(result["shipped_minus_none"]) < 0.001
    for doc in ("docs/augment.md", "docs/data.md"):
        text = (ROOT / doc).read_text()
        assert "augment_policy_quality.json" in text, doc
