"""MetaKnowledge and TuningTask: (de)serialization, errors, the shipped file."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from autometa.optuna import MetaKnowledge, MetaSampler, TuningTask, task_from_study


def test_knowledge_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="python -m autometa.optuna.train"):
        MetaSampler(knowledge=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid sampler meta-knowledge"):
        MetaSampler(knowledge=bad)
    old = tmp_path / "old.json"
    old.write_text('{"format_version": 99}')
    with pytest.raises(ValueError, match="format version"):
        MetaKnowledge.load(old)


def test_knowledge_round_trip(tmp_path) -> None:
    task = TuningTask(
        name="t",
        distributions={"x": FloatDistribution(0, 1), "c": CategoricalDistribution(["a", "b"])},
        params=[{"x": 0.1, "c": "a"}, {"x": 0.9, "c": "b"}],
        losses=[1.0, 0.5],
    )
    k = MetaKnowledge(gp_lengthscale=0.2, gp_noise=0.01, designs={1: [[0.5]]}, tasks=[task])
    sha = k.save(tmp_path / "k.json")
    assert len(sha) == 64
    k2 = MetaKnowledge.load(tmp_path / "k.json")
    assert k2.tasks[0].params == task.params and k2.designs == {1: [[0.5]]}
    assert k2.without_tasks(["t"]).tasks == []


def test_shipped_knowledge_matches_its_model_card() -> None:
    import hashlib
    import json

    from autometa.optuna import DEFAULT_KNOWLEDGE_PATH

    card = json.loads((DEFAULT_KNOWLEDGE_PATH.parent / "sampler_model_card.json").read_text())
    assert hashlib.sha256(DEFAULT_KNOWLEDGE_PATH.read_bytes()).hexdigest() == card["sha256"]
    assert "python -m autometa.optuna.train" in card["command"]
    k = MetaKnowledge.default()
    assert {t.name for t in k.tasks} == {f"hpobench/{n}" for n in card["data"]["hpobench"]}
    assert not any("hpolib" in t.name or "nasbench" in t.name for t in k.tasks)


def test_task_from_study_keeps_finite_completed_trials() -> None:
    study = optuna.create_study()
    dist = {"x": FloatDistribution(0, 2)}
    study.add_trial(optuna.create_trial(params={"x": 1.0}, distributions=dist, value=3.0))
    study.add_trial(optuna.create_trial(params={"x": 0.5}, distributions=dist, value=float("inf")))
    study.add_trial(
        optuna.create_trial(
            params={"x": 0.2}, distributions=dist, state=optuna.trial.TrialState.FAIL
        )
    )
    task = task_from_study(study)
    assert task.params == [{"x": 1.0}] and task.losses == [3.0]
    with pytest.raises(ValueError, match="1 configurations but 2 losses"):
        TuningTask("t", dist, [{"x": 1.0}], [1.0, 2.0])


def test_pruned_source_trials_rank_below_completed() -> None:
    study = optuna.create_study(direction="maximize")
    dist = {"x": FloatDistribution(0, 2)}
    study.add_trial(optuna.create_trial(params={"x": 1.0}, distributions=dist, value=3.0))
    study.add_trial(optuna.create_trial(params={"x": 1.5}, distributions=dist, value=1.0))
    pruned = optuna.trial.TrialState.PRUNED
    study.add_trial(
        optuna.create_trial(
            params={"x": 0.1}, distributions=dist, state=pruned, intermediate_values={0: 9.0}
        )
    )
    study.add_trial(
        optuna.create_trial(
            params={"x": 0.2},
            distributions=dist,
            state=pruned,
            intermediate_values={0: 0.0, 4: 0.5},
        )
    )
    task = task_from_study(study)
    assert [p["x"] for p in task.params] == [1.0, 1.5, 0.1, 0.2]
    completed, early, late = task.losses[:2], task.losses[2], task.losses[3]
    assert max(completed) < late < early  # later step ranks better, all below completed
