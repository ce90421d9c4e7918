from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from autometa.meta import MetaTrainer, TrainResult, load_meta_learner, save_meta_learner
from autometa.meta._checkpoint import load_checkpoint

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import BlobPool, LinearMAML  # noqa: E402

HERE = Path(__file__).parent
REPO = HERE.parent.parent


def make_trainer(tmp_path: Path | None = None, **kw) -> MetaTrainer:
    kw.setdefault("meta_batch_size", 4)
    kw.setdefault("lr", 0.05)
    kw.setdefault("tracking", False)
    kw.setdefault("progress", False)
    kw.setdefault("eval_every", 5)
    kw.setdefault("val_tasks", 8)
    if tmp_path is not None:
        kw.setdefault("checkpoint_dir", tmp_path / "ckpt")
    return MetaTrainer(
        LinearMAML(), BlobPool(), val_pool=kw.pop("val_pool", BlobPool(name="val")), **kw
    )


def test_fit_returns_history_and_checkpoints(tmp_path):
    result = make_trainer(tmp_path, checkpoint_every=3).fit(10)
    assert isinstance(result, TrainResult)
    assert result.steps == 10 and [h["step"] for h in result.history] == list(range(1, 11))
    assert all(np.isfinite(h["meta_train/loss"]) for h in result.history)
    assert [s for s, _ in result.metric("meta_val/loss")] == [5, 10]
    assert result.best_step in (5, 10)
    assert result.best_val_loss == min(v for _, v in result.metric("meta_val/loss"))
    assert result.last_checkpoint == tmp_path / "ckpt" / "last.pt"
    assert result.best_checkpoint == tmp_path / "ckpt" / "best.pt"
    assert result.learning_curve is not None and result.learning_curve.stat().st_size > 1000
    last = load_checkpoint(result.last_checkpoint)
    assert last["training"]["step"] == 10
    best = load_checkpoint(result.best_checkpoint)
    assert best["training"]["step"] == result.best_step
    # no temporary files left behind by the atomic writes
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir() if p.name != ".autometa.lock") == [
        "best.pt",
        "last.pt",
        "learning_curve.png",
    ]


def test_meta_training_lowers_validation_loss():
    # the blobs' class means share a prior, so a meta-learned init must help
    trainer = make_trainer(lr=0.1, eval_every=30, val_tasks=32, meta_batch_size=8)
    before = trainer.validate()["meta_val/loss"]
    result = trainer.fit(30)
    assert result.best_val_loss < before


def test_same_seed_same_history_different_seed_different():
    h1 = [h["meta_train/loss"] for h in make_trainer(seed=3).fit(6).history]
    h2 = [h["meta_train/loss"] for h in make_trainer(seed=3).fit(6).history]
    h3 = [h["meta_train/loss"] for h in make_trainer(seed=4).fit(6).history]
    assert h1 == h2
    assert h1 != h3


def test_validation_tasks_are_fixed():
    trainer = make_trainer()
    assert trainer.validate() == trainer.validate()
    trainer.fit(2)  # drawing training tasks does not move the validation tasks
    again = make_trainer()
    again.learner.load_state_dict(trainer.learner.state_dict())
    assert again.validate() == trainer.validate()


def test_early_stopping_on_flat_validation_loss(tmp_path):
    # lr so small that weights (float32) do not move: the val loss never improves again
    result = make_trainer(tmp_path, lr=1e-20, eval_every=1, patience=2).fit(50)
    assert result.stopped_early
    assert result.steps == 3 and result.best_step == 1
    assert load_checkpoint(result.last_checkpoint)["training"]["step"] == 3


def test_memory_does_not_grow_across_outer_steps():
    trainer = make_trainer(eval_every=1000)
    trainer.fit(3)

    def live_tensors() -> int:
        gc.collect()
        with (
            warnings.catch_warnings()
        ):  # isinstance() on torch.distributed's deprecated reduce_op warns
            warnings.simplefilter("ignore", FutureWarning)
            return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor))

    before = live_tensors()
    trainer.fit(20)  # continues the same run for 17 more steps
    assert trainer.result_.steps == 20
    assert live_tensors() == before
    # the history keeps plain floats, never tensors holding a graph
    assert all(type(v) in (int, float) for h in trainer.result_.history for v in h.values())


def test_grad_clip_and_optimizers():
    result = make_trainer(grad_clip=1e-3, optimizer="sgd", val_pool=None).fit(2)
    assert all(h["meta_train/grad_norm"] > 0 for h in result.history)
    assert result.best_step is None and result.best_checkpoint is None
    make_trainer(optimizer="adamw", weight_decay=0.01).fit(1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"meta_batch_size": 0}, "meta_batch_size must be a positive integer"),
        ({"lr": -1.0}, "lr must be a positive"),
        ({"optimizer": "lbfgs"}, "optimizer='lbfgs' is not supported"),
        ({"amp": "fp8"}, "amp='fp8' is not understood"),
        ({"patience": 3, "val_pool": None}, "patience .* needs a val_pool"),
        ({"seed": -1}, "seed must be a non-negative int"),
        ({"grad_clip": 0.0}, "grad_clip must be positive"),
    ],
)
def test_bad_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_trainer(**kwargs)


def test_bad_fit_arguments_and_pool_mismatch(tmp_path):
    trainer = make_trainer()
    for steps in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="steps must be a positive integer"):
            trainer.fit(steps)
    with pytest.raises(ValueError, match="needs a CUDA device"):
        make_trainer(amp="fp16", device="cpu").fit(1)
    with pytest.raises(ValueError, match="c_max=5 classes but the learner's net has only c_max=3"):
        MetaTrainer(LinearMAML(c_max=3), BlobPool(c_max=5), tracking=False)
    with pytest.raises(ValueError, match="d_max=7 but the learner expects d_max=6"):
        MetaTrainer(LinearMAML(), BlobPool(d_max=7), tracking=False)
    with pytest.raises(TypeError, match="TaskPool with sample"):
        MetaTrainer(LinearMAML(), object(), tracking=False)
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        make_trainer().fit(1, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        make_trainer().fit(1, resume=tmp_path / "nothing.pt")
    plain = save_meta_learner(LinearMAML(), tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="no training state"):
        make_trainer().fit(1, resume=plain)
    other = make_trainer(tmp_path).fit(1).last_checkpoint
    different = MetaTrainer(LinearMAML(inner_steps=3), BlobPool(), tracking=False, progress=False)
    with pytest.raises(ValueError, match="resume with the same configuration"):
        different.fit(2, resume=other)


def test_resume_true_without_checkpoint_starts_fresh(tmp_path):
    a = make_trainer(tmp_path).fit(4, resume=True)
    b = make_trainer().fit(4)
    assert a.history == b.history and a.resumed_from is None


def test_best_checkpoint_loads_as_learner(tmp_path):
    result = make_trainer(tmp_path).fit(5)
    learner = load_meta_learner(tmp_path / "ckpt")  # the folder resolves to best.pt
    for k, v in learner.state_dict().items():
        assert torch.equal(v, load_checkpoint(result.best_checkpoint)["state_dict"][k])


def test_in_process_resume_equals_uninterrupted(tmp_path):
    full = make_trainer(seed=1).fit(8)
    make_trainer(tmp_path, seed=1, checkpoint_every=4).fit(4)
    resumed = make_trainer(tmp_path, seed=1).fit(8, resume=True)
    assert resumed.resumed_from == 4
    assert resumed.history == full.history
    for (k, a), b in zip(
        full.learner.state_dict().items(), resumed.learner.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k


_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {helpers!r})
    from _trainer_helpers import BlobPool, LinearMAML
    from autometa.meta import MetaTrainer

    mode, ckpt, out, sleep = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

    class SlowPool(BlobPool):
        def sample(self, rng):
            time.sleep(sleep)
            return super().sample(rng)

    trainer = MetaTrainer(
        LinearMAML(), SlowPool(), val_pool=BlobPool(name="val"), meta_batch_size=4, lr=0.05,
        seed=7, eval_every=3, val_tasks=8, checkpoint_dir=None if ckpt == "-" else ckpt,
        checkpoint_every=2, tracking=False, progress=False,
    )
    result = trainer.fit(14, resume=(mode == "resume"))
    torch.save({{k: v for k, v in trainer.learner.state_dict().items()}}, out)
    with open(out + ".json", "w") as fh:
        json.dump({{"history": result.history, "resumed_from": result.resumed_from}}, fh)
    """
)


def _run_script(tmp_path: Path, *args: str, wait: bool = True):
    script = tmp_path / "train_script.py"
    if not script.exists():
        script.write_text(_SCRIPT.format(helpers=str(HERE)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOMETA_TRACKING": "0"}
    cmd = [sys.executable, str(script), *args]
    if wait:
        proc = subprocess.run(
            cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        return proc
    return subprocess.Popen(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.mark.slow
def test_kill9_and_resume_equals_uninterrupted_run(tmp_path):
    """A run killed with SIGKILL mid-run and resumed from last.pt ends bit-identical."""
    ckpt = tmp_path / "ckpt"
    victim = _run_script(
        tmp_path, "fresh", str(ckpt), str(tmp_path / "killed.pt"), "0.04", wait=False
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        if (ckpt / "last.pt").is_file() and load_checkpoint(ckpt / "last.pt")["training"][
            "step"
        ] >= 4:
            break
        if victim.poll() is not None:
            pytest.fail(f"training script ended early: {victim.stderr.read().decode()}")
        time.sleep(0.05)
    time.sleep(0.1)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(ckpt / "last.pt")["training"]["step"]
    assert 4 <= killed_at < 14 and not (tmp_path / "killed.pt").exists()

    _run_script(tmp_path, "resume", str(ckpt), str(tmp_path / "resumed.pt"), "0")
    _run_script(tmp_path, "fresh", "-", str(tmp_path / "full.pt"), "0")
    resumed, full = torch.load(tmp_path / "resumed.pt"), torch.load(tmp_path / "full.pt")
    assert resumed.keys() == full.keys()
    for k in full:
        assert torch.equal(resumed[k], full[k]), k
    meta_r = json.loads((tmp_path / "resumed.pt.json").read_text())
    meta_f = json.loads((tmp_path / "full.pt.json").read_text())
    assert meta_r["resumed_from"] == killed_at and meta_f["resumed_from"] is None
    assert meta_r["history"] == meta_f["history"]


@pytest.mark.slow
def test_mlflow_logging(tracking_uri, tmp_path):
    from mlflow.tracking import MlflowClient

    result = make_trainer(
        tmp_path,
        tracking=True,
        experiment="trainer-test",
        run_name="linear",
        log_every=2,
        checkpoint_every=4,
    ).fit(6)
    assert result.run_id is not None
    client = MlflowClient(tracking_uri)
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "linear"
    assert run.data.params["algo"] == "test-linear-maml"
    assert run.data.params["trainer.meta_batch_size"] == "4"
    train_steps = [m.step for m in client.get_metric_history(result.run_id, "meta_train/loss")]
    assert train_steps == [2, 4, 5, 6]  # every log_every steps, plus the validation steps
    assert [m.step for m in client.get_metric_history(result.run_id, "meta_val/loss")] == [5]
    assert "meta_train/tasks_per_s" in run.data.metrics and "best/meta_val_loss" in run.data.metrics
    arts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"learning_curve.png", "checkpoints"} <= arts
    ckpts = {a.path for a in client.list_artifacts(result.run_id, "checkpoints")}
    assert ckpts == {"checkpoints/best.pt", "checkpoints/last.pt"}


def _real_trainer(algo: str, ckpt: Path | None) -> MetaTrainer:
    from autometa.meta import build_learner
    from autometa.tasks import make_pool

    torch.manual_seed(0)
    net = {"kind": "mlp", "d_max": 6, "c_max": 3, "hidden": [8]}
    if algo == "augmented-maml":
        from autometa.augment import AugmentedLearner

        learner = AugmentedLearner.from_learner(
            build_learner("maml", net=net, inner_steps=1), seed=0
        )
    else:
        learner = build_learner(algo, net=net, inner_steps=1)
    return MetaTrainer(
        learner,
        make_pool("synthetic", d_max=6, c_max=3, split="train", n_range=(16, 24), d_range=(2, 6), class_range=(2, 3)),
        val_pool=make_pool("synthetic", d_max=6, c_max=3, split="val", n_range=(16, 24), d_range=(2, 6), class_range=(2, 3)),
        meta_batch_size=2, val_tasks=2, eval_every=2, checkpoint_dir=ckpt, checkpoint_every=2,
        tracking=False, progress=False,
    )  # fmt: skip


@pytest.mark.parametrize("algo", ["augmented-maml", "meta-lstm"])
def test_real_learners_resume_exactly(tmp_path, algo):
    """Library learners (with an augmentation random stream) continue bit-exactly."""
    if algo == "augmented-maml":
        pytest.importorskip("autometa.augment._learner")
    full = _real_trainer(algo, None).fit(4)
    _real_trainer(algo, tmp_path).fit(2)
    resumed = _real_trainer(algo, tmp_path).fit(4, resume=True)
    assert resumed.resumed_from == 2
    assert resumed.history == full.history
    for (k, a), b in zip(
        full.learner.state_dict().items(), resumed.learner.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k


def test_non_finite_loss_stops_with_a_clear_error():
    trainer = MetaTrainer(
        LinearMAML(inner_lr=float("inf")), BlobPool(), tracking=False, progress=False
    )
    with pytest.raises(FloatingPointError, match="meta-loss became nan at step 1; lower lr"):
        trainer.fit(3)


def test_lr_schedule_warmup_and_cosine(tmp_path):
    trainer = make_trainer(lr=0.1, lr_schedule="cosine", warmup_steps=2)
    trainer._horizon = 10
    lrs = [trainer.lr_at(k) for k in range(10)]
    assert lrs[:3] == pytest.approx([0.05, 0.1, 0.1])
    assert all(a >= b for a, b in zip(lrs[1:], lrs[2:], strict=False)) and lrs[-1] < 0.01
    constant = make_trainer(lr=0.1)
    assert {constant.lr_at(k) for k in range(5)} == {0.1}
    with pytest.raises(ValueError, match="lr_schedule='step' is not supported"):
        make_trainer(lr_schedule="step")
    with pytest.raises(ValueError, match="warmup_steps must be a non-negative integer"):
        make_trainer(warmup_steps=-1)


class CrashingPool(BlobPool):
    """Raises after ``crash_after`` tasks: a run that dies mid-way, in-process."""

    def __init__(self, crash_after: int) -> None:
        super().__init__()
        self.crash_after, self.calls = crash_after, 0

    def sample(self, rng):
        self.calls += 1
        if self.calls > self.crash_after:
            raise RuntimeError("simulated crash")
        return super().sample(rng)


def test_crash_and_resume_with_cosine_schedule(tmp_path):
    kw = {"seed": 2, "lr_schedule": "cosine", "warmup_steps": 2, "checkpoint_every": 3}
    full = make_trainer(**kw).fit(8)
    crashing = MetaTrainer(
        LinearMAML(), CrashingPool(crash_after=4 * 5), val_pool=BlobPool(name="val"), meta_batch_size=4, lr=0.05,
        eval_every=5, val_tasks=8, tracking=False, progress=False, checkpoint_dir=tmp_path / "ckpt", **kw,
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.fit(8)  # dies during step 6; the last checkpoint is step 3
    assert load_checkpoint(tmp_path / "ckpt" / "last.pt")["training"]["step"] == 3
    resumed = make_trainer(tmp_path, **kw).fit(8, resume=True)
    assert resumed.resumed_from == 3 and resumed.history == full.history
    for (k, a), b in zip(
        full.learner.state_dict().items(), resumed.learner.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), k
    with pytest.warns(RuntimeWarning, match="cosine schedule spans 8 steps, this fit 9"):
        make_trainer(tmp_path, **kw).fit(9, resume=True)


def test_cpu_training_passes_every_step_to_the_heap_guard(monkeypatch):
    # a CPU run's fragmented heap grew to 16 GB without it (autometa/_heap.py)
    from autometa._heap import HeapGuard

    calls = []
    monkeypatch.setattr(HeapGuard, "__call__", lambda self: calls.append(1) or False)
    make_trainer(device="cpu").fit(3)
    assert len(calls) == 3
