"""What reaches the user's terminal: --help without raw reST, no third-party warning floods."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autometa._rst import plain_text
from autometa.cli import main

REPO = Path(__file__).resolve().parents[1]
RAW = ("``", ":class:", ":func:", ":mod:", ":meth:", ":attr:")


def test_plain_text_strips_roles_and_literals():
    text = "Fits :class:`~autometa.estimators.AutoMetaClassifier` via :func:`autometa.meta.load_meta_learner`; ``make demo``."
    assert (
        plain_text(text)
        == "Fits AutoMetaClassifier via autometa.meta.load_meta_learner; `make demo`."
    )
    assert plain_text(None) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["demo", "--help"],
        ["bench", "--help"],
        ["bench", "classifier", "--help"],
        ["bench", "augment", "--help"],
        ["meta-train", "--help"],
        ["evaluate", "--help"],
    ],  # fmt: skip
    ids=" ".join,
)
def test_help_has_no_raw_rest(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: autometa" in out
    assert not [m for m in RAW if m in out], out


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONWARNINGS": "default"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_quiet_mlflow_drops_mlflow_chatter_but_not_real_warnings(tmp_path):
    proc = _run(
        """
        import warnings
        from autometa.tracking import start_run
        from autometa.tracking._quiet import quiet_mlflow
        with start_run("exp") as run:          # a new SQLite store: MLflow logs table creation
            run.log_metrics({"x": 1.0})
        with quiet_mlflow():
            import mlflow.pyfunc
            class M(mlflow.pyfunc.PythonModel):  # MLflow warns about missing type hints
                def predict(self, context, model_input, params=None):
                    return model_input
            warnings.warn("a warning of the user's own")
        print("ok")
        """,
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert proc.stderr.strip().splitlines() == [
        line
        for line in proc.stderr.strip().splitlines()
        if "a warning of the user's own" in line or "warnings.warn" in line
    ]
    assert "a warning of the user's own" in proc.stderr
    assert "mlflow" not in proc.stderr.lower()


@pytest.mark.slow
def test_demo_stderr_is_empty(tmp_path):
    proc = _run("from autometa.cli import main; raise SystemExit(main(['demo']))", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "AutoMetaClassifier" in proc.stdout and "logged to MLflow run" in proc.stdout
    assert proc.stderr == ""
