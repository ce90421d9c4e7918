"""Data-parallel meta-training: 2 gloo processes under torchrun equal 1 process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).parent

_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {helpers!r})
    from _trainer_helpers import BlobPool, LinearMAML
    from autometa.meta import MetaTrainer

    out, ckpt = sys.argv[1], sys.argv[2]
    trainer = MetaTrainer(
        LinearMAML(), BlobPool(), val_pool=BlobPool(name="val"), meta_batch_size=5, lr=0.05,
        seed=11, eval_every=2, val_tasks=7, checkpoint_dir=ckpt, checkpoint_every=2,
        grad_clip=10.0, tracking=False, progress=False,
    )
    result = trainer.fit(4)
    rank = int(os.environ.get("RANK", 0))
    torch.save(dict(trainer.learner.state_dict()), f"{{out}}.rank{{rank}}.pt")
    with open(f"{{out}}.rank{{rank}}.json", "w") as fh:
        json.dump({{"history": result.history, "world": trainer._world}}, fh)
    if torch.distributed.is_initialized():
        # leave together: a rank that tears gloo down while the other still holds its
        # connections makes that one abort (as autometa/_commands/meta_train.py does)
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    """
)


def _run(tmp_path: Path, name: str, nproc: int) -> None:
    script = tmp_path / "ddp_script.py"
    script.write_text(_SCRIPT.format(helpers=str(HERE)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOMETA_TRACKING": "0"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    out, ckpt = str(tmp_path / name), str(tmp_path / f"ckpt-{name}")
    if nproc == 1:
        cmd = [sys.executable, str(script), out, ckpt]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            str(script),
            out,
            ckpt,
        ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path):
    _run(tmp_path, "single", 1)
    _run(tmp_path, "ddp", 2)
    single = torch.load(tmp_path / "single.rank0.pt")
    ranks = [torch.load(tmp_path / f"ddp.rank{r}.pt") for r in range(2)]
    for k in single:
        # every rank holds the same weights, and they equal the 1-process weights
        assert torch.equal(ranks[0][k], ranks[1][k]), k
        torch.testing.assert_close(ranks[0][k], single[k], rtol=1e-5, atol=1e-6)
    h1 = json.loads((tmp_path / "single.rank0.json").read_text())
    h2 = [json.loads((tmp_path / f"ddp.rank{r}.json").read_text()) for r in range(2)]
    assert h1["world"] == 1 and h2[0]["world"] == h2[1]["world"] == 2
    # metrics are reduced over ranks: the global batch's loss, accuracy and validation loss
    assert h2[0]["history"] == h2[1]["history"]
    for a, b in zip(h1["history"], h2[0]["history"], strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in sorted(a)], [b[k] for k in sorted(b)], rtol=1e-5)
    # only rank 0 writes checkpoints
    files = sorted(
        p.name for p in (tmp_path / "ckpt-ddp").iterdir() if p.name != ".autometa.lock"
    )  # the folder lock
    assert files == ["best.pt", "last.pt", "learning_curve.png"]


def test_shards_cover_the_batch_exactly():
    from autometa.meta import MetaTrainer

    sys.path.insert(0, str(HERE))
    from _trainer_helpers import BlobPool, LinearMAML

    trainer = MetaTrainer(LinearMAML(), BlobPool(), tracking=False, meta_batch_size=7)
    for world in (1, 2, 3, 7):
        trainer._world = world
        shards = []
        for rank in range(world):
            trainer._rank = rank
            shards.append(trainer._shard(7))
        assert shards[0][0] == 0 and shards[-1][1] == 7
        assert all(a[1] == b[0] for a, b in zip(shards, shards[1:], strict=False))
        assert max(h - lo for lo, h in shards) - min(h - lo for lo, h in shards) <= 1


_NAN_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, {helpers!r})
    from _trainer_helpers import BlobPool, LinearMAML
    from autometa.meta import MetaTrainer

    class PoisonedPool(BlobPool):
        # the last task of the 2nd batch (rank 1's shard) has NaN features
        calls = 0

        def sample(self, rng):
            task = super().sample(rng)
            PoisonedPool.calls += 1
            if PoisonedPool.calls == 4:
                task.x_query.fill_(float("nan"))
            return task

    trainer = MetaTrainer(LinearMAML(), PoisonedPool(), meta_batch_size=2, tracking=False, progress=False)
    try:
        trainer.fit(3)
    except FloatingPointError as exc:
        # one file per rank: the ranks' stdout streams interleave under torchrun
        rank = trainer._rank
        with open(f"stopped_{{rank}}.txt", "w") as fh:
            fh.write(f"STOPPED {{exc}}")
        raise SystemExit(3)
    """
)


@pytest.mark.slow
def test_non_finite_loss_on_one_rank_stops_every_rank(tmp_path):
    script = tmp_path / "nan_script.py"
    script.write_text(_NAN_SCRIPT.format(helpers=str(HERE)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOMETA_TRACKING": "0"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(script),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0
    # both ranks raise (none is left waiting in a collective), naming the step and the rank count
    reports = [p.read_text() for p in sorted(tmp_path.glob("stopped_*.txt"))]
    assert len(reports) == 2, proc.stdout + proc.stderr[-2000:]
    for report in reports:
        assert report.startswith("STOPPED The meta-loss became nan on 1 of 2 ranks at step 2"), (
            report
        )
