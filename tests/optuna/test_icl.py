"""The in-context surrogate: meta-training beats the untrained network; the sampler uses it."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

torch = pytest.importorskip("torch")

from autometa.optuna import MetaSampler  # noqa: E402
from autometa.optuna._icl import (  # noqa: E402
    MAX_DIM,
    held_out_nll,
    load_icl_surrogate,
    sample_prior_batch,
    train_icl_surrogate,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def surrogate():
    torch.set_num_threads(1)
    return train_icl_surrogate(steps=200, batch=16, width=32, layers=2, seed=0)


def test_prior_batches_are_seeded_and_rank_normal() -> None:
    a = sample_prior_batch(4, 32, torch.Generator().manual_seed(1))
    b = sample_prior_batch(4, 32, torch.Generator().manual_seed(1))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    x, z, dims = a
    assert x.shape == (4, 32, MAX_DIM) and z.shape == (4, 32)
    for i, d in enumerate(dims.tolist()):
        assert torch.all(x[i, :, d:] == 0)
    assert abs(float(z.mean())) < 1e-4


def test_meta_training_beats_the_untrained_network_and_the_marginal(surrogate) -> None:
    m = surrogate.metrics
    assert m["held_out_nll/trained"] < m["held_out_nll/untrained"]
    # Predicting the prior marginal N(0, 1) of rank-normal scores scores 0.5 (without the
    # constant); below it, the network uses the context.
    assert m["held_out_nll/trained"] < 0.5
    assert held_out_nll(surrogate.net) == pytest.approx(m["held_out_nll/trained"])


def test_more_than_8_dimensions_is_refused(surrogate) -> None:
    with pytest.raises(ValueError, match="at most 8 dimensions"):
        surrogate.predict(np.zeros((3, 9)), np.zeros(3), np.zeros((2, 9)))


def test_sampler_with_the_surrogate(surrogate) -> None:
    sampler = MetaSampler(knowledge=None, surrogate=surrogate, seed=0)
    study = optuna.create_study(sampler=sampler)
    study.optimize(
        lambda t: (t.suggest_float("x", -5, 5) - 1.0) ** 2 + t.suggest_int("k", 0, 5), n_trials=20
    )
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 20
    # (How well it optimizes is measured by `autometa bench sampler --no-source`, not here.)
    asked = [study.ask() for _ in range(3)]  # running trials get distinct proposals
    for t in asked:
        t.suggest_float("x", -5, 5)
        t.suggest_int("k", 0, 5)
    assert len({tuple(sorted(t.params.items())) for t in asked}) == 3


def test_sampler_with_surrogate_pickles(surrogate) -> None:
    import pickle

    sampler = MetaSampler(knowledge=None, surrogate=surrogate, seed=0)
    clone = pickle.loads(pickle.dumps(sampler))
    x = np.random.default_rng(0).random((6, 2))
    a = surrogate.predict(x, np.arange(6.0), x[:2])
    b = clone._surrogate.predict(x, np.arange(6.0), x[:2])
    np.testing.assert_allclose(a[0], b[0])


def test_saved_surrogate_loads_without_unpickling_and_predicts_the_same(
    surrogate, tmp_path
) -> None:
    path = surrogate.save(tmp_path / "surrogate.pt")
    loaded = load_icl_surrogate(path)
    assert loaded.metrics == surrogate.metrics
    x = np.random.default_rng(1).random((7, 3))
    for a, b in zip(
        surrogate.predict(x, np.arange(7.0), x[:4]),
        loaded.predict(x, np.arange(7.0), x[:4]),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_a_foreign_or_truncated_file_is_refused_clearly(surrogate, tmp_path) -> None:
    other = tmp_path / "other.pt"
    torch.save({"state_dict": {}}, other)
    with pytest.raises(ValueError, match="not an in-context surrogate"):
        load_icl_surrogate(other)
    data = surrogate.save(tmp_path / "s.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_icl_surrogate(tmp_path / "cut.pt")
