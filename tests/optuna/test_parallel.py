"""Several worker processes optimize one study through a shared storage."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

N_WORKERS = 3
TRIALS_PER_WORKER = 6


def _objective(trial: optuna.Trial) -> float:
    import time

    x = trial.suggest_float("x", -5.0, 5.0)
    k = trial.suggest_int("k", 0, 8)
    c = trial.suggest_categorical("c", ["a", "b"])
    time.sleep(0.02)  # let workers overlap
    return (x - 1.0) ** 2 + 0.1 * (k - 3) ** 2 + (c == "a")


def _storage(kind: str, path: str) -> optuna.storages.BaseStorage | str:
    if kind == "rdb":
        return optuna.storages.RDBStorage(
            f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}}
        )
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(path))


def _worker(kind: str, path: str, out: str) -> None:
    from autometa.optuna import MetaSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Same seed in every worker: the hardest case for "workers must not collide".
    study = optuna.load_study(
        study_name="shared", storage=_storage(kind, path), sampler=MetaSampler(seed=0)
    )
    done: list[int] = []
    study.optimize(
        _objective, n_trials=TRIALS_PER_WORKER, callbacks=[lambda s, t: done.append(t.number)]
    )
    Path(out).write_text(",".join(map(str, done)))


@pytest.mark.parametrize("kind", ["rdb", "journal"])
def test_workers_share_one_study(kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / ("study.db" if kind == "rdb" else "journal.log"))
    optuna.create_study(study_name="shared", storage=_storage(kind, path))
    ctx = mp.get_context("fork")
    outs = [str(tmp_path / f"w{i}.txt") for i in range(N_WORKERS)]
    procs = [ctx.Process(target=_worker, args=(kind, path, o)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0

    reported = [int(n) for o in outs for n in Path(o).read_text().split(",")]
    study = optuna.load_study(study_name="shared", storage=_storage(kind, path))
    trials = study.get_trials(deepcopy=False)
    n = N_WORKERS * TRIALS_PER_WORKER
    # Every trial recorded exactly once, none lost, all finished.
    assert len(trials) == n
    assert sorted(reported) == sorted(t.number for t in trials) == list(range(n))
    assert all(t.state == TrialState.COMPLETE for t in trials)
    for t in trials:
        expected = (
            (t.params["x"] - 1.0) ** 2 + 0.1 * (t.params["k"] - 3) ** 2 + (t.params["c"] == "a")
        )
        assert t.value == pytest.approx(expected)
    # Workers with the same seed still propose different configurations. Without a lock in the
    # storage, two workers can read the study in the same instant before either has written its
    # parameters, so a repeat cannot be excluded (CI saw one in 18 trials once, and three on a
    # machine loaded by two training jobs); the constant liar keeps repeats few, where sampling
    # blind to running trials repeats whole batches: every worker the same sequence, so only
    # TRIALS_PER_WORKER distinct configurations in all.
    configs = {(round(t.params["x"], 9), t.params["k"], t.params["c"]) for t in trials}
    assert len(configs) >= 2 * n // 3 > TRIALS_PER_WORKER


def _pruned_objective(trial: optuna.Trial) -> float:
    import time

    x = trial.suggest_float("x", 0.0, 1.0)
    k = trial.suggest_int("k", 1, 8)
    final = (x - 0.3) ** 2 + 0.02 * (k - 5) ** 2
    for step in range(5):
        time.sleep(0.005)  # let workers overlap
        trial.report(final + 1.0 / (step + 1), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return final


def _pruning_worker(kind: str, path: str, out: str) -> None:
    from autometa.optuna import MetaSampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name="pruned",
        storage=_storage(kind, path),
        sampler=MetaSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4),
    )
    done: list[int] = []
    study.optimize(
        _pruned_objective,
        n_trials=PRUNING_TRIALS_PER_WORKER,
        callbacks=[lambda s, t: done.append(t.number)],
    )
    Path(out).write_text(",".join(map(str, done)))


PRUNING_TRIALS_PER_WORKER = 14


@pytest.mark.parametrize("kind", ["rdb", "journal"])
def test_two_workers_with_a_pruner(kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / ("study.db" if kind == "rdb" else "journal.log"))
    optuna.create_study(study_name="pruned", storage=_storage(kind, path))
    ctx = mp.get_context("fork")
    outs = [str(tmp_path / f"w{i}.txt") for i in range(2)]
    procs = [ctx.Process(target=_pruning_worker, args=(kind, path, o)) for o in outs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
        assert p.exitcode == 0

    study = optuna.load_study(study_name="pruned", storage=_storage(kind, path))
    trials = study.get_trials(deepcopy=False)
    n = 2 * PRUNING_TRIALS_PER_WORKER
    reported = [int(n) for o in outs for n in Path(o).read_text().split(",")]
    assert sorted(reported) == sorted(t.number for t in trials) == list(range(n))
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    # Same guarantee as without a pruner: at most a rare read-before-write repeat. Before pruned
    # trials were used, pruned configurations were proposed again and again (most trials repeated).
    configs = {(round(t.params["x"], 9), t.params["k"]) for t in trials}
    assert len(configs) >= n - 2, len(configs)
    # Pruned regions avoided: after the pruner's start-up, most trials are not pruned.
    late = [t for t in trials if t.number >= 10]
    n_pruned = sum(t.state == TrialState.PRUNED for t in late)
    assert n_pruned <= 0.75 * len(late), (n_pruned, len(late))  # random search: about 0.8
