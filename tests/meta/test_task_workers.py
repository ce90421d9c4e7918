"""Tasks drawn in a worker process: the same stream bit for bit, exact resume, honest CPU time."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from autometa.meta import MetaTrainer, _campaign
from autometa.meta._campaign import InContextCampaign
from autometa.meta._checkpoint import load_checkpoint
from autometa.meta._task_stream import TaskPrefetcher, draw_batch
from autometa.meta._trainer_config import CheckpointConfig, OptimizerConfig, ValidationConfig

sys.path.insert(0, str(Path(__file__).parent))
from _trainer_helpers import BlobPool, LinearMAML, SpinPool, SpinPrior  # noqa: E402
from test_campaign import _v2  # noqa: E402


def _trainer(tmp_path: Path | None = None, pool=None, task_workers: int = 0, **kw) -> MetaTrainer:
    kw.setdefault("meta_batch_size", 4)
    if tmp_path is not None:
        kw["checkpoints"] = CheckpointConfig(tmp_path, every=kw.pop("every", 100))
    trainer = MetaTrainer(LinearMAML(), pool or BlobPool(), optimizer=OptimizerConfig(lr=0.05),
                          validation=ValidationConfig(BlobPool(name="val"), every=5, tasks=8),
                          tracking=False, progress=False, seed=3, **kw)  # fmt: skip
    trainer.task_workers = task_workers
    return trainer


def _equal_batches(a, b) -> None:
    for field in ("x_support", "y_support", "x_query", "y_query", "support_mask", "query_mask"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field


def test_worker_stream_equals_in_process_stream_and_leaves_the_same_generator_state():
    pool = BlobPool()
    rng_in, rng_w = np.random.default_rng(11), np.random.default_rng(11)
    with TaskPrefetcher(pool, rng_w, 4, pool.c_max) as prefetcher:
        for _ in range(6):
            _equal_batches(prefetcher.next(), draw_batch(pool, rng_in, 4, pool.c_max))
            assert rng_w.bit_generator.state == rng_in.bit_generator.state
    # batches drawn ahead and dropped do not move the generator: it continues where the last taken left it
    _equal_batches(draw_batch(pool, rng_w, 4, 3), draw_batch(pool, rng_in, 4, 3))


def test_one_worker_trains_the_same_weights_and_history(tmp_path):
    torch.manual_seed(0)
    plain = _trainer(tmp_path / "a").fit(12)
    torch.manual_seed(0)
    worker = _trainer(tmp_path / "b", task_workers=1).fit(12)
    assert worker.history == plain.history
    for (k, a), b in zip(plain.learner.state_dict().items(), worker.learner.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(a, b), k
    ta, tb = (load_checkpoint(p / "last.pt")["training"] for p in (tmp_path / "a", tmp_path / "b"))
    assert ta["numpy_rng"] == tb["numpy_rng"]
    assert torch.equal(
        ta["torch_rng"], tb["torch_rng"]
    )  # the loader leaves torch's generator alone


@pytest.mark.parametrize("first, then", [(0, 1), (1, 0), (1, 1)])
def test_resume_is_exact_when_workers_change(tmp_path, first, then):
    whole = _trainer().fit(10)
    _trainer(tmp_path, every=4, task_workers=first).fit(4)
    resumed = _trainer(tmp_path, task_workers=then).fit(10, resume=True)
    assert resumed.resumed_from == 4 and resumed.history == whole.history
    for (k, a), b in zip(whole.learner.state_dict().items(), resumed.learner.state_dict().values(), strict=True):  # fmt: skip
        assert torch.equal(a, b), k


def test_worker_cpu_time_is_counted():
    # every task costs 20 ms of CPU to draw: 5 steps x 4 tasks = 0.4 s in the worker, not in this process
    trainer = _trainer(pool=SpinPool(0.02), task_workers=1)
    t0 = time.process_time()
    trainer.fit(5)
    here = time.process_time() - t0
    assert trainer.worker_cpu_seconds >= 0.4
    assert here < 0.4 + 0.5 * here  # the spinning did not happen in this process
    assert (
        _trainer(pool=SpinPool(0.0)).fit(2)
        and _trainer(pool=SpinPool(0.0)).worker_cpu_seconds == 0.0
    )


def test_bad_task_workers_are_refused(tmp_path):
    with pytest.raises(ValueError, match="task_workers=2.*sequential"):
        _trainer(task_workers=2).fit(1)
    with pytest.raises(ValueError, match="0 or 1"):
        _trainer(task_workers=-1).fit(1)
    with pytest.raises(ValueError, match="0 or 1"):
        InContextCampaign(tmp_path, task_workers=True)


def test_campaign_with_a_worker_is_the_same_run_and_counts_the_worker_cpu(tmp_path, monkeypatch):
    config = _v2()
    InContextCampaign(tmp_path / "a", **config).run(steps=6)
    # the second run switches the worker on mid-way: same weights, averaged weights and curve
    InContextCampaign(tmp_path / "b", **config).run(steps=3)
    InContextCampaign(tmp_path / "b", task_workers=1, **config).run(steps=6)
    pa, pb = (load_checkpoint(tmp_path / d / "last.pt")["training"] for d in ("a", "b"))
    for k in pa["averaged"]:
        assert torch.equal(pa["averaged"][k], pb["averaged"][k]), k
    curve_a = InContextCampaign(tmp_path / "a", **config).curve()
    curve_b = InContextCampaign(tmp_path / "b", **config).curve()
    assert [c["auc@32"] for c in curve_a] == [c["auc@32"] for c in curve_b]
    assert json.loads((tmp_path / "b" / "curve.json").read_text())["curve"][-1]["step"] == 6

    # CPU-hours include the worker's: its batches cost 0.5 s of CPU each, spent in the worker
    monkeypatch.setattr(_campaign, "InContextPrior", SpinPrior)
    t0 = time.process_time()
    curve = InContextCampaign(tmp_path / "c", task_workers=1, **config).run(steps=3)
    here = time.process_time() - t0  # everything this process spent, evaluation included
    assert here < 3 * 0.5 <= curve[-1]["cpu_hours"] * 3600  # without the worker's share: <= here


def test_cli_passes_task_workers_to_the_campaign(tmp_path, monkeypatch):
    import argparse

    from autometa._commands import meta_train

    seen = {}
    monkeypatch.setattr(
        InContextCampaign, "run", lambda self, **kw: seen.setdefault("workers", self.task_workers)
    )
    parser = argparse.ArgumentParser()
    meta_train.add_arguments(parser)
    args = parser.parse_args(["--preset", "in-context-v2", "--steps", "1", "--task-workers", "1", "--no-mlflow",
                              "--checkpoint-dir", str(tmp_path)])  # fmt: skip
    assert meta_train._run_campaign(args) == 0
    assert seen["workers"] == 1
    assert InContextCampaign(tmp_path, task_workers=1).build_trainer().task_workers == 1


def test_train_cores_settings_are_parsed_and_checked():
    from autometa.bench.train_cores import _settings

    assert _settings("1x0, 2x0,1x1") == [(1, 0), (2, 0), (1, 1)]
    with pytest.raises(ValueError, match="THREADSxWORKERS"):
        _settings("2")


def test_the_both_cores_table_quotes_each_setting_s_own_measurement():
    """docs/in_context.md "Both cores": each row's numbers are its own setting's in the results JSON."""
    root = Path(__file__).resolve().parents[2]
    payload = json.loads((root / "docs/results/in_context_v2_workers.json").read_text())
    by_setting = {r["setting"]: r for r in payload["rows"]}
    text = (root / "docs/in_context.md").read_text()
    params = payload["params"]
    load = f"(load average {params['load_average_1min_before']} before,\n{params['load_average_1min_after']} after)"
    assert load in text
    assert (
        f"--steps {params['steps']} --warmup {params['warmup']} --repeats {params['repeats']}"
        in text
    )
    lines = text.split("<!-- results: docs/results/in_context_v2_workers.json -->", 1)[
        1
    ].splitlines()
    rows = []
    for line in lines[1:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    body = rows[2:]
    assert {r[0] for r in body} == set(by_setting)
    base = payload["rows"][0]
    for name, cpu, worker, wall, speedup in body:
        row = by_setting[name]
        assert (
            cpu == f"{row['cpu_s_per_step']:.3f}"
            and worker == f"{row['worker_cpu_s_per_step']:.3f}"
        )
        assert wall == f"{row['wall_s_per_step']:.2f}"
        assert speedup == (
            "—" if row is base else f"{base['wall_s_per_step'] / row['wall_s_per_step']:.2f}x"
        )
