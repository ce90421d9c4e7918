from __future__ import annotations

import argparse

import pytest

from autometa.bench import speed
from autometa.bench._common import add_common_arguments


@pytest.mark.slow
def test_speed_bench_quick_mode_reports_speedup_and_matching_losses():
    parser = argparse.ArgumentParser()
    add_common_arguments(parser)
    speed.add_arguments(parser)
    args = parser.parse_args(["--quick", "--no-mlflow", "--methods", "maml"])
    result = speed.compute(args)
    assert result.name == "speed"
    assert [(r["impl"], r["meta_batch"]) for r in result.rows] == [
        ("reference", 2),
        ("autometa", 2),
    ]
    ref, ours = result.rows
    assert ours["speedup"] == pytest.approx(ref["s_per_iter"] / ours["s_per_iter"])
    assert ours["cpu_speedup"] == pytest.approx(ref["cpu_s_per_iter"] / ours["cpu_s_per_iter"])
    assert ours["cpu_s_per_iter"] > 0
    assert ours["tasks_per_s"] > 0 and ours["peak_mem_mb"] >= 0
    # same learner, same episodes: both implementations compute the same meta-loss
    assert ours["first_loss"] == pytest.approx(ref["first_loss"], rel=1e-5)
    assert "speedup maml @2" in result.summary
