"""The MetaTrainer's collaborators on their own: sharding, schedule, precision, run state, plot."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from autometa.meta import _dist, _run_state
from autometa.meta._plots import learning_curve_figure
from autometa.meta._schedule import lr_at, make_optimizer, resolve_amp


@pytest.mark.parametrize("n", [1, 5, 16, 17])
@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shards_partition_the_batch_in_order(n: int, world: int) -> None:
    if world > n:
        return
    shards = [_dist.shard(n, r, world) for r in range(world)]
    assert shards[0][0] == 0 and shards[-1][1] == n
    assert all(
        a[1] == b[0] for a, b in zip(shards, shards[1:], strict=False)
    )  # contiguous, no overlap
    sizes = [hi - lo for lo, hi in shards]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_all_reduce_is_a_no_op_for_one_process() -> None:
    v = torch.tensor([1.0, 2.0])
    _dist.all_reduce_sum([v], world=1)
    assert v.tolist() == [1.0, 2.0]


def test_lr_warmup_then_cosine_to_zero() -> None:
    kw = dict(lr=0.1, schedule="cosine", warmup_steps=4, horizon=20)
    assert [lr_at(s, **kw) for s in range(4)] == pytest.approx([0.025, 0.05, 0.075, 0.1])
    assert lr_at(4, **kw) == pytest.approx(0.1)  # the first post-warm-up step is the peak
    assert lr_at(12, **kw) == pytest.approx(0.05)  # half-way through the decay
    assert lr_at(20, **kw) == pytest.approx(0.0, abs=1e-12) and lr_at(25, **kw) == pytest.approx(
        0.0, abs=1e-12
    )
    assert lr_at(7, lr=0.1, schedule="constant", warmup_steps=0, horizon=20) == 0.1


def test_decay_window_cools_a_constant_rate_down_to_zero():
    kw = {
        "lr": 0.1,
        "schedule": "constant",
        "warmup_steps": 0,
        "horizon": 0,
        "decay_window": (10, 20),
    }
    assert lr_at(9, **kw) == pytest.approx(0.1)  # untouched before the window
    assert lr_at(10, **kw) == pytest.approx(0.1)
    assert lr_at(15, **kw) == pytest.approx(0.05)
    assert lr_at(19, **kw) == pytest.approx(0.01) and lr_at(20, **kw) == 0.0
    rates = [lr_at(s, **kw) for s in range(10, 21)]
    assert all(a > b for a, b in zip(rates, rates[1:], strict=False))


def test_optimizer_and_precision_choices() -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimizer("adamw", p, lr=1e-3, weight_decay=0.1), torch.optim.AdamW)
    assert make_optimizer("sgd", p, lr=1e-3, weight_decay=0.0).param_groups[0]["momentum"] == 0.9
    with pytest.raises(ValueError, match="optimizer='lion' is not supported"):
        make_optimizer("lion", p, lr=1e-3, weight_decay=0.0)
    cpu = torch.device("cpu")
    assert (
        resolve_amp("auto", cpu) is None
        and resolve_amp(True, cpu) is None
        and resolve_amp("off", cpu) is None
    )
    with pytest.raises(ValueError, match="amp='bf16' needs a CUDA device"):
        resolve_amp("bf16", cpu)


class _WithStream(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)
        self.aug_generator: torch.Generator | None = torch.Generator().manual_seed(3)
        self.lazy_generator: torch.Generator | None = None  # created on first use


def test_training_state_restores_every_random_stream() -> None:
    module = _WithStream()
    opt = make_optimizer("adam", module.parameters(), lr=1e-3, weight_decay=0.0)
    rng = np.random.default_rng(0)
    state = _run_state.training_state(
        step=3,
        optimizer=opt,
        scaler=None,
        history=[{"step": 1}],
        best_val=None,
        best_step=None,
        bad_evals=0,
        stopped_early=False,
        rng=rng,
        module=module,
        trainer_config={"lr": 1e-3},
        world_size=1,
        horizon=10,
    )
    assert set(state["module_generators"]) == {":aug_generator"}  # the lazy one is not created yet
    expected = (
        rng.random(),
        random.random(),
        torch.rand(1),
        torch.rand(1, generator=module.aug_generator),
    )
    module.lazy_generator = torch.Generator().manual_seed(9)  # created after the snapshot
    _run_state.restore_rngs(state, rng)
    _run_state.restore_module_generators(module, state["module_generators"], torch.device("cpu"))
    again = (
        rng.random(),
        random.random(),
        torch.rand(1),
        torch.rand(1, generator=module.aug_generator),
    )
    assert (
        expected[:2] == again[:2]
        and torch.equal(expected[2], again[2])
        and torch.equal(expected[3], again[3])
    )
    assert (
        module.lazy_generator is None
    )  # back to "not created yet", as when the checkpoint was written
    assert json.loads(state["trainer_config"]) == {"lr": 1e-3} and state["horizon"] == 10


def test_check_resumable_names_what_differs() -> None:
    from autometa.meta import MAML
    from autometa.meta._checkpoint import make_payload

    net = {"kind": "mlp", "d_max": 4, "c_max": 3, "hidden": [8]}
    learner = MAML(net=net)
    payload = make_payload(
        learner,
        training={"trainer_config": json.dumps({"lr": 0.1, "seed": 0, "checkpoint_every": 5})},
    )
    diff = _run_state.check_resumable(
        payload, "last.pt", learner, {"lr": 0.2, "seed": 0, "checkpoint_every": 9}
    )
    assert diff == {"lr": (0.1, 0.2)}  # checkpoint_every never matters
    with pytest.raises(ValueError, match="learner configured as"):
        _run_state.check_resumable(payload, "last.pt", MAML(net={**net, "hidden": [16]}), {})
    with pytest.raises(ValueError, match="no training state"):
        _run_state.check_resumable(make_payload(learner), "m.pt", learner, {})


def test_learning_curve_figure_is_written(tmp_path) -> None:
    history = [{"step": s, "meta_train/loss": 1.0 / s} for s in range(1, 41)]
    history[19]["meta_val/loss"] = 0.2
    path = tmp_path / "curve.png"
    fig = learning_curve_figure(history, best_step=20, title="maml on blobs", path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels == [
        "meta-train loss",
        "meta-train loss (2-step mean)",
        "meta-val loss",
        "best step 20",
    ]
