"""``autometa bench classifier``: protocol pieces and a tiny end-to-end run."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch

from autometa.bench import classifier as bench


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_metrics_macro_auc_logloss_accuracy():
    classes = np.array(["a", "b", "c"])
    y = np.array(["a", "b", "c", "a"])
    perfect = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1]])
    m = bench.classification_metrics(y, perfect, classes)
    assert m["roc_auc"] == 1.0 and m["accuracy"] == 1.0
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.8, 0.7])))


def test_summarize_ranks_only_cells_every_estimator_ran():
    recs = [
        {
            "estimator": e,
            "dataset": "d",
            "n_train": 32,
            "seed": s,
            "roc_auc": auc,
            "log_loss": 0.5,
            "accuracy": 0.7,
            "time_s": 0.1,
        }
        for s in range(2)
        for e, auc in (("autometa", 0.9), ("hgb", 0.5))
    ] + [
        {
            "estimator": "hgb",
            "dataset": "e",
            "n_train": 32,
            "seed": 0,
            "roc_auc": 0.99,
            "log_loss": 0.1,
            "accuracy": 1.0,
            "time_s": 0.1,
        }
    ]
    rows, summary = bench.summarize(recs, ["autometa", "hgb"])
    by = {r["estimator"]: r for r in rows}
    assert by["autometa"]["mean_rank"] == 1.0 and by["hgb"]["mean_rank"] == 2.0
    assert by["hgb"]["cells"] == 2  # the cell only hgb ran is left out
    assert summary["auc_margin_vs_best_other@32"] == pytest.approx(0.4)
    assert summary["time_ratio_to_hgb@32"] == pytest.approx(1.0)


def test_hindsight_row_picks_the_best_peer_per_data_set():
    def rec(e, d, s, auc):
        return {"estimator": e, "dataset": d, "n_train": 32, "seed": s, "roc_auc": auc, "log_loss": 0.5,
                "accuracy": 0.7, "time_s": 0.1}  # fmt: skip

    # rf300 wins on d1 (mean 0.8 vs 0.7), logreg on d2 (0.9 vs 0.6); autometa is 0.84 everywhere
    recs = [
        rec("rf300", "d1", 0, 0.9),
        rec("rf300", "d1", 1, 0.7),
        rec("logreg", "d1", 0, 0.7),
        rec("logreg", "d1", 1, 0.7),
        rec("rf300", "d2", 0, 0.6),
        rec("rf300", "d2", 1, 0.6),
        rec("logreg", "d2", 0, 0.9),
        rec("logreg", "d2", 1, 0.9),
    ]
    recs += [rec("autometa", d, s, 0.84) for d in ("d1", "d2") for s in (0, 1)]
    rows, summary = bench.summarize(recs, ["autometa", "rf300", "logreg"])
    hind = [r for r in rows if r["estimator"] == bench.HINDSIGHT]
    assert len(hind) == 1 and hind[0]["roc_auc"] == pytest.approx(0.85)  # mean of 0.8 and 0.9
    assert summary["auc_margin_vs_hindsight_peer@32"] == pytest.approx(-0.01)
    assert summary["auc_margin_vs_best_other@32"] == pytest.approx(
        0.84 - 0.8
    )  # the hindsight row is not a peer


def test_evaluation_sets_are_held_out_of_training():
    from autometa.estimators._dev_data import EVALUATION, NEURAL_TRAIN, PORTFOLIO_TRAIN, RESERVED

    names = {n.split("/", 1)[1] for n in (*NEURAL_TRAIN, *PORTFOLIO_TRAIN)}
    assert not names & {n.split("/", 1)[1] for n in EVALUATION}
    assert not names & RESERVED
    assert not set(NEURAL_TRAIN) & set(PORTFOLIO_TRAIN)
    card = json.loads(
        (bench.Path(bench.__file__).parent.parent / "checkpoints" / "model_card.json").read_text()
    )
    # what the card says the members trained on holds no current evaluation set (crx left the
    # list after the content audit; the card's held-out list is the record of that time)
    trained = set(card["data"]["neural_meta_train"]) | set(
        card["data"]["neural_meta_val_and_portfolio_train"]
    )
    assert not trained & set(EVALUATION)


def test_quick_run_reports_and_reuses_cells(tmp_path):
    raw = tmp_path / "raw.jsonl"
    args = argparse.Namespace(sizes="32", datasets="keel/hayes-roth", estimators="logreg,knn7", ablation=False,
                              max_test=200, raw=str(raw), reuse=[], threads=1, seeds=1, quick=False)  # fmt: skip
    result = bench.compute(args)
    assert {r["estimator"] for r in result.rows} == {"logreg", "knn7", bench.HINDSIGHT}
    assert all(0.0 <= r["roc_auc"] <= 1.0 for r in result.rows)
    best = max(r["roc_auc"] for r in result.rows if r["estimator"] != bench.HINDSIGHT)
    assert [r["roc_auc"] for r in result.rows if r["estimator"] == bench.HINDSIGHT] == [
        best
    ]  # one data set, one seed
    assert len(raw.read_text().splitlines()) == 2
    again = bench.compute(argparse.Namespace(**{**vars(args), "raw": None, "reuse": [str(raw)]}))
    assert [r["roc_auc"] for r in again.rows] == [r["roc_auc"] for r in result.rows]


def test_overrides_reach_every_autometaclassifier_variant_and_no_peer(tmp_path):
    import pandas as pd

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    ckpt = tmp_path / "candidate.pt"
    ckpt.write_bytes(
        b""
    )  # existence is what the command line checks; the estimator reads it at fit
    args = argparse.Namespace(in_context_learner=str(ckpt), n_ensemble=1)
    overrides = bench.autometa_overrides(args)
    assert overrides == {"in_context_learner": str(ckpt), "n_ensemble": 1}
    for name in ("autometa", "am_icl_only", "am_uniform"):
        est = bench.make_estimator(name, X, 0, overrides=overrides)
        assert est.get_params()["in_context_learner"] == str(ckpt)
        assert est.get_params()["n_ensemble"] == 1
    assert bench.make_estimator("autometa", X, 0).get_params()["n_ensemble"] == 4  # none given
    rf = bench.make_estimator("rf300", X, 0, overrides=overrides)
    assert "in_context_learner" not in rf.get_params()
    assert (
        bench.autometa_overrides(argparse.Namespace(in_context_learner=None, n_ensemble=None)) == {}
    )
    with pytest.raises(FileNotFoundError, match="--in-context-learner"):
        bench.autometa_overrides(argparse.Namespace(in_context_learner=str(tmp_path / "no.pt")))
