"""Every ``python`` and ``bash`` code block of README.md and docs/*.md runs (or is checked), warning-free.

How each block is treated:

* **python** blocks run top to bottom, in one namespace per file (a later block may use an
  earlier block's ``clf``), in a temporary working folder, after a small documented prelude
  (:func:`_prelude`) that defines the placeholders the prose leaves to the reader: ``X_df``,
  ``y``, ``X_test``, ``X_new``, ``X`` (a dev table: wine for classification, diabetes for the
  blocks that use ``AutoMetaRegressor``), ``past_study_1``/``s1``..., a ``past.db`` storage with
  studies, an ``objective``. A line whose comment starts with ``# ValueError`` must raise it.
  Step counts shrink (:data:`_SHRINK`: ``steps=2000`` -> ``steps=2``, ``--tasks 1000`` ->
  ``--tasks 4``), and a UserWarning, RuntimeWarning or FutureWarning fails the block.
* **bash** blocks: every ``autometa ...`` line is parsed by the real CLI parser (so a renamed
  option fails); ``autometa info``, ``evaluate`` and ``meta-train`` without ``--preset`` also
  run (shrunk). Benchmarks (minutes) and the long campaigns (hours; ``--ship`` writes into the
  package) are parsed only; other commands (``make``, ``torchrun``, ``pip`` ...) and lines with
  placeholders (``...``, ``a | b`` alternatives) are skipped.
* Blocks in :data:`COMPILE_ONLY` are fragments with placeholders the text explains (a
  ``net``, a ``batch``, ``runs:/<run_id>``, an image folder the user supplies): they must
  compile. Each entry says why.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shlex
import time
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILES = ["README.md", *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]

#: (file, first line of the block) -> why the block is only compiled
COMPILE_ONLY = {
    ("docs/engine.md", "from autometa.functional import SGD, MetaSGDRule, Support, adapt, batched_forward"):
        "a fragment: net, x, y, masks and loss are the surrounding prose's tensors",
    ("docs/engine.md", "from autometa.meta import MAML, MetaLSTM, build_learner"):
        "a fragment: batch, x, y, x_new are an episode batch and one task described in the text",
    ("docs/hypernet_metric.md", "from autometa.tasks import ImageFolderPool                       # also the \"images:<path>\" pool spec"):
        "needs an Omniglot-format folder of the user's (the loader is tested on a generated folder)",
    ("docs/training.md", "from autometa.meta import load_meta_learner, log_meta_learner"):
        "needs a run id of the user's MLflow store (runs:/<run_id>/...) and encoded support/query arrays",
}  # fmt: skip

#: (file, first line) of bash blocks whose commands are not autometa's and are not run
NOT_AUTOMETA = {
    ("README.md", "make demo    # creates .venv if needed, installs everything (CPU torch wheel), runs the main job"):
        "CI itself runs `make test` (bash .ci/run)",
}  # fmt: skip

_SHRINK = [
    (re.compile(r"(?<![\w-])steps=\d[\d_]*"), "steps=2"),
    (re.compile(r"(?<![\w-])--steps \d+"), "--steps 2"),
    (re.compile(r"--tasks \d+"), "--tasks 4"),
    (re.compile(r"n_trials=\d+"), "n_trials=3"),
]
_RUN_COMMANDS = {"info", "evaluate", "meta-train"}


def _shrink(text: str) -> str:
    for pattern, repl in _SHRINK:
        text = pattern.sub(repl, text)
    return text


def _blocks(name: str) -> list[tuple[str, int, str]]:
    """``(language, line, code)`` of the python and bash fences of one file."""
    text = (ROOT / name).read_text()
    out = []
    for m in re.finditer(r"^```(python|bash)\n(.*?)^```", text, re.M | re.S):
        out.append((m.group(1), text[: m.start()].count("\n") + 1, m.group(2)))
    return out


def _first_line(code: str) -> str:
    return next(line for line in code.splitlines() if line.strip()).rstrip()


def _data(regression: bool) -> dict[str, object]:
    """``X_df``, ``y``, ``X``, ``X_test``, ``X_new``: wine (string labels) or diabetes (regression)."""
    from sklearn.datasets import load_diabetes, load_wine

    if regression:
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        X, y = X.iloc[:80], y.iloc[:80]
    else:
        X, y = load_wine(return_X_y=True, as_frame=True)
        X, y = X.iloc[::3], y.iloc[::3].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return {"X_df": X, "y": y, "X": X, "X_test": X.head(20), "X_new": X.head(20)}


def _prelude(tmp: Path) -> dict[str, object]:
    """The other placeholders: past studies, a storage holding studies, an objective."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-5, 1, log=True)
        return (lr - 0.01) ** 2

    storage = f"sqlite:///{tmp}/past.db"
    studies = []
    for name in ("run-2025-11", "run-2025-12", "current"):
        study = optuna.create_study(
            study_name=name, storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
        )
        study.optimize(objective, n_trials=4)
        studies.append(study)
    shared = f"sqlite:///{tmp}/shared.db"  # the parallel-workers example's storage, one empty study
    optuna.create_study(study_name="shared", storage=shared)
    return {
        "past_study_1": studies[0], "past_study_2": studies[1], "s1": studies[0], "s2": studies[1],
        "storage": storage, "STORAGE": shared, "objective": objective,
    }  # fmt: skip


def _expect_errors(code: str) -> str:
    """``stmt   # ValueError: ...`` -> the statement inside ``with pytest.raises(ValueError):``."""
    lines = []
    for line in code.splitlines():
        m = re.match(r"^(\s*)(\S.*?)\s+#\s*(\w+Error)\b", line)
        if m:
            lines += [f"{m.group(1)}with __raises({m.group(3)}):", f"{m.group(1)}    {m.group(2)}"]
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def _run_python(code: str, namespace: dict[str, object], where: str) -> None:
    namespace["__raises"] = pytest.raises
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(_expect_errors(_shrink(code)), where, "exec"), namespace)  # noqa: S102 - the docs' own code
    loud = [
        w for w in caught if issubclass(w.category, (UserWarning, RuntimeWarning, FutureWarning))
    ]
    assert not loud, f"{where} warns: " + "; ".join(
        sorted({f"{w.category.__name__}: {w.message}" for w in loud})
    )


def _commands(code: str) -> list[str]:
    """Shell lines of a bash block with ``\\`` continuations joined."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _autometa_argv(line: str) -> list[str] | None:
    """The argv after ``autometa`` (env assignments dropped), or None for another command."""
    if not re.match(r"^([A-Z_]+=\S+\s+)*autometa\s", line):
        return None
    words = shlex.split(line, comments=True)
    while words and re.match(r"^[A-Z_]+=", words[0]):
        words = words[1:]
    if not words or words[0] != "autometa":
        return None
    return words[1:]


def _parse(argv: list[str]) -> argparse.Namespace:
    from autometa.cli import COMMANDS

    module = importlib.import_module(COMMANDS[argv[0]][0])
    parser = argparse.ArgumentParser(prog=f"autometa {argv[0]}")
    module.add_arguments(parser)
    return parser.parse_args(argv[1:])


def _run_bash(code: str, where: str) -> int:
    from autometa.cli import main

    ran = 0
    for line in _commands(code):
        if "..." in line or " | " in line:
            continue  # placeholders and alternatives, not a command
        argv = _autometa_argv(_shrink(line))
        if argv is None:
            continue
        args = _parse(argv)  # a renamed or removed option fails here
        if argv[0] in _RUN_COMMANDS and not getattr(args, "preset", None):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert main(argv) == 0, f"{where}: `autometa {' '.join(argv)}` failed"
            loud = [
                w
                for w in caught
                if issubclass(w.category, (UserWarning, RuntimeWarning, FutureWarning))
            ]
            assert not loud, f"{where}: `{line}` warns: " + "; ".join(
                sorted({str(w.message) for w in loud})
            )
            ran += 1
    return ran


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One temporary MLflow store for every file's blocks (creating one costs seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('readme-store')}/mlflow.db"


@pytest.mark.parametrize("name", FILES)
def test_code_blocks_run(name, tmp_path, monkeypatch, store) -> None:
    blocks = _blocks(name)
    if not blocks:
        pytest.skip(f"{name} has no python or bash blocks")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    (tmp_path / "plugins").symlink_to(
        ROOT / "plugins"
    )  # docs load the OptunaHub package from the checkout
    namespace: dict[str, object] = {}
    for lang, line, code in blocks:
        where = f"{name}:{line}"
        t0 = time.perf_counter()
        key = (name, _first_line(code))
        if lang == "python":
            if key in COMPILE_ONLY:
                compile(code, where, "exec")
                continue
            if not namespace:
                namespace.update(_prelude(tmp_path))
            namespace.update(_data(regression="AutoMetaRegressor" in code))
            _run_python(code, namespace, where)
        elif key not in NOT_AUTOMETA:
            _run_bash(code, where)
        print(f"{where}: {time.perf_counter() - t0:.1f} s")
    os.chdir(ROOT)


def test_every_listed_exception_still_exists() -> None:
    """Every COMPILE_ONLY / NOT_AUTOMETA entry names a block that exists (stale entries are removed)."""
    present = {(name, _first_line(code)) for name in FILES for _, _, code in _blocks(name)}
    assert set(COMPILE_ONLY) <= present and set(NOT_AUTOMETA) <= present


def test_no_link_leaves_the_repository() -> None:
    """Relative links in README and docs point at files of this repository."""
    for name in FILES:
        text = (ROOT / name).read_text()
        for target in re.findall(r"\]\(([^)#\s]+)", text) + re.findall(r"`(\.\./[^`\s]+)`", text):
            if re.match(r"^[a-z]+://", target):
                continue
            resolved = ((ROOT / name).parent / target).resolve()
            assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{name} links to {target}"
