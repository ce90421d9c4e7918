"""`autometa meta-train` and `autometa evaluate`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from autometa.cli import main
from autometa.meta import MAML, load_meta_learner

TINY = [
    "--pool", "synthetic", "--d-max", "6", "--c-max", "3", "--hidden", "8",
    "--meta-batch-size", "2", "--val-tasks", "4", "--eval-every", "2", "--checkpoint-every", "2",
    "--no-progress",
]  # fmt: skip


def meta_train(tmp_path: Path, *extra: str, algo: str = "maml", steps: int = 3) -> list[str]:
    return [
        "meta-train",
        "--algo",
        algo,
        "--steps",
        str(steps),
        *TINY,
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        *extra,
    ]


def summary(out: str) -> dict[str, str]:
    return dict(line.split(None, 1) for line in out.strip().splitlines() if line.strip())


def test_help_teaches(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["meta-train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for text in ("--algo", "maml", "--resume", "--learner-kw", "torchrun", "--augment"):
        assert text in out
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    assert "95% confidence" in capsys.readouterr().out


def test_meta_train_resume_and_evaluate(tmp_path, capsys):
    args = meta_train(
        tmp_path,
        "--no-mlflow",
        "--inner-steps",
        "1",
        "--inner-lr",
        "0.3",
        "--save",
        str(tmp_path / "final.pt"),
    )
    assert main(args) == 0
    first = summary(capsys.readouterr().out)
    assert first["steps"] == "3" and first["mlflow_run_id"] == "None"
    assert (
        first["best_step"] == "2"
        and Path(first["last_checkpoint"]) == tmp_path / "ckpt" / "last.pt"
    )
    learner = load_meta_learner(tmp_path / "final.pt")
    assert isinstance(learner, MAML) and learner.inner_steps == 1 and learner.inner_lr == 0.3
    assert learner.get_config()["net"] == {"kind": "mlp", "d_max": 6, "c_max": 3, "hidden": [8]}

    # continue the same run up to 5 steps
    assert (
        main(
            [
                *meta_train(
                    tmp_path, "--no-mlflow", "--inner-steps", "1", "--inner-lr", "0.3", steps=5
                ),
                "--resume",
            ]
        )
        == 0
    )
    second = summary(capsys.readouterr().out)
    assert second["steps"] == "5" and second["resumed_from"] == "3"

    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tmp_path / "ckpt"),
                "--pool",
                "synthetic",
                "--tasks",
                "6",
                "--batch-size",
                "4",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["algo"] == "maml" and result["tasks"] == 6
    assert 0.0 <= result["accuracy"] <= 1.0 and result["accuracy_ci95"] >= 0 and result["loss"] > 0
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(tmp_path / "final.pt"),
                "--tasks",
                "3",
                "--json",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "r.json").read_text())["tasks"] == 3
    assert main(["evaluate", "--checkpoint", str(tmp_path / "final.pt"), "--tasks", "3"]) == 0
    assert "query accuracy" in capsys.readouterr().out


def test_learner_kw_and_other_algorithms(tmp_path, capsys):
    args = meta_train(
        tmp_path, "--no-mlflow", "--learner-kw", "first_order=true", "--val-pool", "none", steps=2
    )
    assert main(args) == 0
    out = summary(capsys.readouterr().out)
    assert out["best_step"] == "None" and out["best_checkpoint"] == "None"
    assert load_meta_learner(tmp_path / "ckpt" / "last.pt").first_order is True
    assert main(meta_train(tmp_path / "p", "--no-mlflow", algo="protonet", steps=2)) == 0


def test_augment_learned_wraps_the_learner(tmp_path, capsys):
    pytest.importorskip("autometa.augment._learner")
    assert (
        main(
            meta_train(
                tmp_path, "--no-mlflow", "--augment", "learned", "--inner-steps", "1", steps=2
            )
        )
        == 0
    )
    learner = load_meta_learner(tmp_path / "ckpt" / "last.pt")
    assert learner.algo == "augmented" and learner.base.algo == "maml"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--algo", "no-such-algo", "--steps", "2"],
            "Unknown meta-learning algorithm 'no-such-algo'; choose one of",
        ),
        (["--algo", "maml", "--steps", "0"], "--steps must be a positive integer"),
        (
            ["--algo", "maml", "--steps", "2", "--pool", "nonsense-pool"],
            "Bad pool spec 'nonsense-pool'",
        ),
        (
            ["--algo", "protonet", "--steps", "2", "--inner-lr", "0.1"],
            "--inner-lr does not apply to --algo protonet",
        ),
        (
            ["--algo", "maml", "--steps", "2", "--learner-kw", "bogus=1"],
            "maml has no option 'bogus'",
        ),
        (["--algo", "maml", "--steps", "2", "--learner-kw", "inner_steps=-1"], "Cannot build maml"),
    ],
)
def test_bad_configs_exit_nonzero(args, message, capsys):
    assert main(["meta-train", *args, "--no-mlflow"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--algo", "maml", "--steps", "2", "--lr", "-1"],
        ["--algo", "maml", "--steps", "2", "--learner-kw", "novalue"],
        ["--algo", "maml", "--steps", "2", "--hidden", "a,b"],
    ],
)
def test_malformed_options_are_usage_errors(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["meta-train", *args])
    assert exc.value.code == 2


def test_missing_steps_is_a_clear_error(capsys):
    assert main(["meta-train", "--algo", "maml"]) == 2
    assert "--steps is required" in capsys.readouterr().err
    assert main(["meta-train", "--preset", "in-context"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert (
        main(["meta-train", "--preset", "in-context", "--steps", "5", "--cooldown-dir", "x"]) == 2
    )
    assert "--cooldown-steps" in capsys.readouterr().err


def test_evaluate_errors(tmp_path, capsys):
    assert main(["evaluate", "--checkpoint", str(tmp_path / "missing.pt")]) == 2
    assert "No checkpoint at" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "junk.pt")]) == 2
    assert "truncated, corrupt" in capsys.readouterr().err
    from autometa.meta import save_meta_learner

    save_meta_learner(
        MAML(net={"kind": "mlp", "d_max": 6, "c_max": 3, "hidden": [8]}), tmp_path / "m.pt"
    )
    assert main(["evaluate", "--checkpoint", str(tmp_path / "m.pt"), "--pool", "nope"]) == 2
    assert "Bad pool spec 'nope'" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path / "m.pt"), "--tasks", "0"]) == 2


@pytest.mark.slow
def test_meta_train_logs_to_mlflow(tmp_path, tracking_uri, capsys):
    from mlflow.tracking import MlflowClient

    args = meta_train(
        tmp_path,
        "--experiment",
        "cli-test",
        "--run-name",
        "tiny",
        "--log-every",
        "1",
        "--register-model",
        "cli-model",
    )
    assert main(args) == 0
    out = summary(capsys.readouterr().out)
    run_id = out["mlflow_run_id"]
    assert out["model_uri"] == "models:/cli-model/1"
    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.run_name == "tiny" and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "cli-test"
    assert [m.step for m in client.get_metric_history(run_id, "meta_train/loss")] == [1, 2, 3]
    assert [m.step for m in client.get_metric_history(run_id, "meta_val/accuracy")] == [2]
    assert run.data.params["learner.net.d_max"] == "6"
    assert {a.path for a in client.list_artifacts(run_id, "checkpoints")} == {
        "checkpoints/best.pt",
        "checkpoints/last.pt",
    }
    # the logged checkpoint loads straight from MLflow
    learner = load_meta_learner(f"runs:/{run_id}/checkpoints/last.pt")
    local = load_meta_learner(tmp_path / "ckpt" / "last.pt")
    for a, b in zip(learner.state_dict().values(), local.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # the registered model is the best checkpoint
    registered = load_meta_learner("models:/cli-model/1")
    best = load_meta_learner(tmp_path / "ckpt" / "best.pt")
    for a, b in zip(registered.state_dict().values(), best.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_python_m_and_torchrun(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AUTOMETA_TRACKING": "0"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        env.pop(key, None)
    common = [
        "-m",
        "autometa",
        "meta-train",
        "--algo",
        "maml",
        "--steps",
        "2",
        *TINY,
        "--no-mlflow",
    ]
    single = subprocess.run(
        [sys.executable, *common, "--checkpoint-dir", str(tmp_path / "one")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert single.returncode == 0, single.stderr
    multi = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         *common, "--checkpoint-dir", str(tmp_path / "two")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert multi.returncode == 0, multi.stdout[-2000:] + multi.stderr[-3000:]
    assert multi.stdout.count("best_val_loss") == 1  # only rank 0 prints
    one, two = summary(single.stdout), summary(multi.stdout)
    assert float(two["best_val_loss"]) == pytest.approx(float(one["best_val_loss"]), rel=1e-4)


def test_seed_fixes_initial_weights_and_run(tmp_path, capsys):
    from autometa.meta._checkpoint import load_checkpoint

    def weights(name: str, seed: str) -> dict[str, torch.Tensor]:
        args = meta_train(
            tmp_path / name,
            "--no-mlflow",
            "--val-pool",
            "none",
            "--seed",
            seed,
            "--inner-steps",
            "1",
            steps=2,
        )
        assert main(args) == 0
        return load_checkpoint(tmp_path / name / "ckpt" / "last.pt")["state_dict"]

    a, b, c = weights("a", "3"), weights("b", "3"), weights("c", "4")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_image_pools_get_a_conv4_net(tmp_path, capsys):
    common = ["meta-train", "--algo", "protonet", "--pool", "episodic:digits:2way1shot", "--steps", "1",
              "--meta-batch-size", "2", "--val-pool", "none", "--no-mlflow", "--no-progress"]  # fmt: skip
    assert main([*common, "--checkpoint-dir", str(tmp_path / "auto")]) == 0
    net = load_meta_learner(tmp_path / "auto").get_config()["net"]
    assert net == {"kind": "conv4", "image_shape": [1, 8, 8], "c_max": 10}
    assert main([*common, "--net", "mlp", "--checkpoint-dir", str(tmp_path / "mlp")]) == 0
    assert (
        load_meta_learner(tmp_path / "mlp").get_config()["net"]["d_max"] == 64
    )  # flattened pixels
    capsys.readouterr()
    assert (
        main(["meta-train", "--algo", "maml", "--steps", "1", "--net", "conv4", "--no-mlflow"]) == 2
    )
    assert "--net conv4 needs an image pool" in capsys.readouterr().err


def test_meta_train_needs_algo_or_preset(capsys):
    from autometa.cli import main

    assert main(["meta-train", "--steps", "3", "--no-mlflow"]) == 2
    assert "--algo ALGO" in capsys.readouterr().err


def test_meta_train_preset_default_is_offered(capsys):
    import pytest

    from autometa.cli import main

    with pytest.raises(SystemExit):
        main(["meta-train", "--help"])
    out = capsys.readouterr().out
    from autometa._commands.meta_train import PRESET_DIRS

    assert f"--preset {{{','.join(PRESET_DIRS)}}}" in out
    assert "in-context-regression-spacing" in PRESET_DIRS and "default" in PRESET_DIRS
    with pytest.raises(SystemExit):
        main(["meta-train", "--preset", "fancy", "--steps", "3"])


def test_preset_default_with_a_checkpoint_dir_runs_its_stages(tmp_path, monkeypatch):
    """``--preset default --checkpoint-dir D`` (a Path from argparse) runs the recipe into D."""
    from autometa.estimators import train_default

    ship_dir = tmp_path / "shipped"
    ship_dir.mkdir()
    monkeypatch.setattr(
        train_default, "CHECKPOINT_DIR", ship_dir
    )  # never touch the real shipped files
    portfolio_calls = []

    def tiny_portfolio(
        n_tasks, seed, minutes, records_path, **kw
    ):  # the 30-minute stage has its own tests
        portfolio_calls.append((seed, records_path))
        return {"n_tasks": 0}

    monkeypatch.setattr(train_default, "train_portfolio", tiny_portfolio)
    out = tmp_path / "D"
    before = torch.get_num_threads()
    try:
        code = main(["meta-train", "--preset", "default", "--steps", "1", "--seed", "3", "--no-mlflow",
                     "--checkpoint-dir", str(out)])  # fmt: skip
    finally:
        torch.set_num_threads(before)
    assert code == 0
    for stage in ("neural", "hypernet"):
        assert (out / stage / "last.pt").is_file()
        assert (ship_dir / train_default.SHIPPED[stage]).is_file()
    assert portfolio_calls == [(3, out / "portfolio_records.pkl")]
    card = json.loads((ship_dir / "model_card.json").read_text())
    assert card["neural"]["steps"] == 1
    assert f"--checkpoint-dir {out}" in card["commands"]["neural"]
