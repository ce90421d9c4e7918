"""Each shipped neural member beats its untrained self on validation tables.

"Every tensor differs from its initialization" (``test_shipped_trained.py``) passes after one
optimizer step. This asks what meta-training is for: the shipped learner, used the way
``AutoMetaClassifier`` uses it, against the same architecture rebuilt with the training
command's seed and never trained, on meta-validation tables; the comparison itself lives in
``docs/results/shipped_quality.py`` (which wrote the numbers ``docs/data.md`` quotes).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from autometa.tasks import roles

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "results" / "shipped_quality.py"


def _quality():
    spec = importlib.util.spec_from_file_location("shipped_quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quality_tables_are_validation_tables():
    q = _quality()
    assert set(q.TABLES) <= set(roles.CLASSIFIER_PORTFOLIO_TRAIN)
    assert not set(q.TABLES) & {n for names in roles.EVALUATION.values() for n in names}
    assert not set(q.TABLES) & set(roles.CLASSIFIER_NEURAL_TRAIN)


@pytest.mark.slow
@pytest.mark.parametrize("index", [0, 1], ids=["neural", "hypernet"])
def test_a_shipped_member_beats_its_untrained_self_on_validation_tables(index, tmp_path):
    q = _quality()
    member, file, kind = q.MEMBERS[index]
    shipped = q.aucs(member, q.CHECKPOINTS / file)
    untrained = q.aucs(member, q.untrained_copy(file, kind, tmp_path))
    # measured (files retrained after the content audit): neural 0.7613 vs 0.7306 (8 of 9 cells),
    # hypernet 0.7448 vs 0.7370 (6 of 9); the files before them: 0.7608 (8 of 9), 0.7485 (7 of 9)
    assert shipped.mean() > untrained.mean() + 0.005, (shipped.round(3), untrained.round(3))
    assert (shipped > untrained).mean() >= 2 / 3, (shipped.round(3), untrained.round(3))
