"""The OptunaHub-format package loads with optunahub and runs a study."""

from __future__ import annotations

from pathlib import Path

import optuna
import optunahub

from autometa.optuna import MetaSampler

REGISTRY_ROOT = Path(__file__).resolve().parents[2] / "plugins" / "optunahub"
PACKAGE = REGISTRY_ROOT / "samplers" / "autometa"


def test_package_files_exist() -> None:
    for name in ("README.md", "__init__.py", "example.py", "LICENSE"):
        assert (PACKAGE / name).is_file(), name
    readme = (PACKAGE / "README.md").read_text()
    front = readme.split("---")[1]
    for key in ("author:", "title:", "description:", "tags:", "optuna_versions:", "license:"):
        assert key in front


def test_load_local_module_and_optimize() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    module = optunahub.load_local_module(
        package="samplers/autometa", registry_root=str(REGISTRY_ROOT)
    )
    assert module.MetaSampler is MetaSampler
    study = optuna.create_study(sampler=module.MetaSampler(seed=0))
    study.optimize(lambda t: (t.suggest_float("x", -3, 3) - 1) ** 2, n_trials=8)
    assert len(study.trials) == 8
    assert study.best_value < 1.0
