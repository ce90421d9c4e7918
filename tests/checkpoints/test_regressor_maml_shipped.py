"""The shipped MAML regression member: offline, trained, better than untrained, its card recomputes."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from autometa.estimators._maml_regression_member import (
    MAML_REGRESSOR_CHECKPOINT,
    load_maml_regressor,
)
from autometa.meta import MAMLRegression
from autometa.tasks import roles
from autometa.tasks.datasets import is_reserved

CARD = MAML_REGRESSOR_CHECKPOINT.with_name("regressor_maml_model_card.json")

pytestmark = pytest.mark.skipif(
    not MAML_REGRESSOR_CHECKPOINT.is_file(), reason="no MAML regression checkpoint shipped"
)


def card() -> dict:
    return json.loads(CARD.read_text())


def test_loads_offline_and_matches_its_card(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    learner = load_maml_regressor()
    info = card()
    assert isinstance(learner, MAMLRegression) and learner.get_config() == info["config"]
    assert info["sha256"] == hashlib.sha256(MAML_REGRESSOR_CHECKPOINT.read_bytes()).hexdigest()
    data = info["data"]
    assert data["reserved_data_sets_used"] == [] and not any(
        is_reserved(t) for t in data["dev_tables"]
    )
    assert set(data["dev_tables"]) - roles.CONTENT_LEAKS == set(
        roles.REGRESSOR_TRAIN
    )  # the card is a record
    assert not set(data["dev_tables"]) & set(roles.REGRESSOR_EVALUATION)


def test_every_tensor_was_trained():
    trained = load_maml_regressor()
    torch.manual_seed(0)  # the training script's seed: its initial weights
    init = dict(MAMLRegression(**trained.get_config()).named_parameters())
    assert not [k for k, p in trained.named_parameters() if torch.equal(p.detach(), init[k])]


def test_meta_training_is_what_makes_it_work_and_the_card_recomputes():
    from autometa.estimators.train_maml_regressor import maml_member_r2

    trained = load_maml_regressor()
    torch.manual_seed(0)
    untrained = MAMLRegression(**trained.get_config()).eval()
    # the card's scores, recomputed on the tables the card names (the validation list of that time)
    tables = card()["data"]["held_out_for_the_scores"]
    recorded = {
        "meta_trained": maml_member_r2(trained, tables=tables),
        "untrained": maml_member_r2(untrained, tables=tables),
    }
    assert recorded == card()["held_out_r2"]
    # and on today's validation list (the content audit dropped MASS.cats and ggplot2.mpg from it)
    scores = {"meta_trained": maml_member_r2(trained), "untrained": maml_member_r2(untrained)}
    for size in ("r2@32", "r2@128"):
        assert scores["meta_trained"][size] > scores["untrained"][size] + 0.2
