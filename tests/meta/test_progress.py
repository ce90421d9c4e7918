"""The time-left estimate of meta-training progress lines counts validations and checkpoints."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from autometa.meta import _progress
from autometa.meta._progress import ProgressLines

sys.path.insert(0, str(Path(__file__).parent))
from test_trainer import make_trainer  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _simulate(
    total: int,
    step_s,
    val_every: int,
    val_s: float,
    ckpt_every: int,
    ckpt_s: float,
    *,
    events: bool,
):
    """Run the trainer's loop order on a fake clock; return [(step, estimate, true time left)]."""
    clock = FakeClock()
    bar = ProgressLines(total, 0, every_s=1e9, stream=io.StringIO(), clock=clock)
    if events:
        bar.schedule("validation", val_every, prior_steps=0.3 * 4)
        bar.schedule("checkpoint", ckpt_every, at_end=True)
    seen = []
    for n in range(1, total + 1):
        clock.t += step_s(n) if callable(step_s) else step_s
        if n % val_every == 0:
            clock.t += val_s
            if events:
                bar.record("validation", val_s)
        bar.update(1)
        seen.append((n, bar.time_left(clock.t), clock.t))
        if n % ckpt_every == 0 or n == total:
            clock.t += ckpt_s
            if events:
                bar.record("checkpoint", ckpt_s)
    end = clock.t
    return [(n, est, end - now) for n, est, now in seen]


@pytest.mark.parametrize("val_s", [2.0, 30.0, 200.0])
def test_time_left_is_within_30_percent_after_the_first_tenth(val_s):
    # 1,000 steps of 1 s; a validation every 100 steps costing 2 s, 30 s or 200 s; a checkpoint every 100
    rows = _simulate(1000, 1.0, 100, val_s, 100, 3.0, events=True)
    for n, est, true in rows[100:-1]:  # after the first 10% of the steps
        assert abs(est - true) <= 0.3 * true, (n, est, true)


def test_slow_first_steps_do_not_inflate_the_estimate():
    # the first 5% of the steps take 3 s (data sets loaded lazily), the rest 1 s
    rows = _simulate(1000, lambda n: 3.0 if n <= 50 else 1.0, 100, 30.0, 100, 3.0, events=True)
    for n, est, true in rows[100:-1]:
        assert abs(est - true) <= 0.3 * true, (n, est, true)


def test_a_rate_from_steps_alone_is_far_too_low_before_the_first_validation():
    """What the estimate was before: elapsed / steps * steps left (3-5x too low here)."""
    rows = _simulate(1000, 1.0, 500, 1500.0, 100, 3.0, events=False)
    ratios = [true / est for n, est, true in rows[100:499]]
    assert min(ratios) > 3 and max(ratios) > 4
    # the events with a measured cost (the trainer times one validation batch before the loop)
    clock = FakeClock()
    bar = ProgressLines(1000, 0, every_s=1e9, stream=io.StringIO(), clock=clock)
    bar.schedule("validation", 500, prior_s=1400.0)
    clock.t = 100.0
    bar.update(100)
    assert bar.time_left(clock.t) == pytest.approx(900 + 2 * 1400.0)


def test_event_counts_and_prior_before_the_first_measurement():
    clock = FakeClock()
    bar = ProgressLines(1000, 0, every_s=1e9, stream=io.StringIO(), clock=clock)
    bar.schedule("validation", 100, prior_steps=2.0)
    bar.schedule("checkpoint", 300, at_end=True)
    clock.t = 10.0
    bar.update(10)  # 1 s per step, nothing measured yet
    # 990 steps + 10 validations at the prior (2 step-times) + 3 checkpoints and the final one at 0 s
    assert bar.time_left(clock.t) == pytest.approx(990 + 10 * 2.0)
    bar.record("validation", 7.0)
    clock.t = 17.0 + 90.0
    bar.update(90)  # step 100: 100 steps in 100 s (the 7 s of validation are not step time)
    assert bar.time_left(clock.t) == pytest.approx(900 + 9 * 7.0)


def test_the_trainer_reports_validations_and_checkpoints(tmp_path, monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(ProgressLines, "record", lambda self, kind, s: calls.append(kind))
    scheduled: list[tuple] = []
    real = ProgressLines.schedule
    monkeypatch.setattr(
        ProgressLines,
        "schedule",
        lambda self, kind, every, **kw: (
            scheduled.append((kind, every)),
            real(self, kind, every, **kw),
        ),
    )
    monkeypatch.setattr(_progress.sys.stderr, "isatty", lambda: False, raising=False)
    make_trainer(tmp_path, progress=True, eval_every=5, checkpoint_every=4).fit(10)
    assert scheduled == [("validation", 5), ("checkpoint", 4)]
    assert calls[0] == "validation" or calls[0] == "checkpoint"
    assert calls.count("validation") == 2  # steps 5 and 10
    assert calls.count("checkpoint") == 3  # steps 4, 8 and the last one


def test_timing_a_validation_before_the_loop_leaves_training_unchanged(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(_progress.sys.stderr, "isatty", lambda: False, raising=False)
    quiet = make_trainer(tmp_path / "a", progress=False, eval_every=5).fit(10)
    timed = make_trainer(tmp_path / "b", progress=True, eval_every=5).fit(
        10
    )  # probes one validation batch
    for (name, a), (_, b) in zip(
        quiet.learner.state_dict().items(), timed.learner.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert quiet.metric("meta_val/loss") == timed.metric("meta_val/loss")
