"""MetaSampler.from_storage: past studies of an RDB or Journal storage as source studies."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution

from autometa.optuna import MetaSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _quad(trial: optuna.Trial) -> float:
    return (trial.suggest_float("x", -5, 5) - 2.0) ** 2


def _storage(kind: str, tmp_path: Path) -> optuna.storages.BaseStorage | str:
    if kind == "rdb":
        return f"sqlite:///{tmp_path / 'past.db'}"
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "past.log")))


@pytest.mark.parametrize("kind", ["rdb", "journal"])
def test_compatible_studies_are_taken_and_the_others_skipped_with_a_note(
    kind: str, tmp_path: Path
) -> None:
    storage = _storage(kind, tmp_path)
    good = optuna.create_study(
        study_name="good", storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    good.optimize(_quad, n_trials=30)
    short = optuna.create_study(study_name="short", storage=storage)
    short.optimize(_quad, n_trials=2)
    multi = optuna.create_study(
        study_name="multi", storage=storage, directions=["minimize", "minimize"]
    )
    multi.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=5)
    other = optuna.create_study(study_name="other", storage=storage)
    other.optimize(lambda t: float(t.suggest_categorical("x", ["a", "b"]) == "a"), n_trials=6)

    space = {"x": FloatDistribution(-5, 5)}
    with pytest.warns(UserWarning, match="skipping study") as record:
        sampler = MetaSampler.from_storage(storage, search_space=space, knowledge=None, seed=0)
    notes = " ".join(str(w.message) for w in record)
    assert (
        "'short'" in notes and "'multi'" in notes and "'other'" in notes and "'good'" not in notes
    )
    assert [t.name for t in sampler._source_tasks] == ["good"]
    # The transferred study starts from the source's best configurations.
    warm = optuna.create_study(sampler=sampler)
    warm.optimize(_quad, n_trials=2)
    assert warm.best_value <= good.best_value + 1e-12
    cold = optuna.create_study(sampler=MetaSampler(knowledge=None, seed=0))
    cold.optimize(_quad, n_trials=2)
    assert warm.best_value < cold.best_value


def test_study_names_exclude_and_missing(tmp_path: Path) -> None:
    storage = _storage("rdb", tmp_path)
    for name in ("a", "b"):
        optuna.create_study(study_name=name, storage=storage).optimize(_quad, n_trials=6)
    assert len(MetaSampler.from_storage(storage, ["a"], knowledge=None)._source_tasks) == 1
    assert len(MetaSampler.from_storage(storage, exclude=["b"], knowledge=None)._source_tasks) == 1
    assert len(MetaSampler.from_storage(storage, knowledge=None)._source_tasks) == 2
    with pytest.raises(ValueError, match="not in the storage"):
        MetaSampler.from_storage(storage, ["missing"])


def test_categorical_kind_must_match(tmp_path: Path) -> None:
    storage = _storage("rdb", tmp_path)
    optuna.create_study(study_name="a", storage=storage).optimize(_quad, n_trials=6)
    with pytest.warns(UserWarning, match="shares no parameter"):
        s = MetaSampler.from_storage(
            storage, search_space={"x": CategoricalDistribution(["u", "v"])}, knowledge=None
        )
    assert s._source_tasks == []


def test_from_storage_through_the_optunahub_package(tmp_path: Path) -> None:
    import optunahub

    root = Path(__file__).resolve().parents[2] / "plugins" / "optunahub"
    module = optunahub.load_local_module(package="samplers/autometa", registry_root=str(root))
    storage = _storage("journal", tmp_path)
    optuna.create_study(study_name="past", storage=storage).optimize(_quad, n_trials=8)
    sampler = module.MetaSampler.from_storage(storage, knowledge=None, seed=0)
    assert [t.name for t in sampler._source_tasks] == ["past"]
