"""Before/after numbers of the files re-fitted after the content audit, on validation tables only.

Run from the repository root, once before and once after re-fitting a file::

    OMP_NUM_THREADS=1 python docs/results/retrain_after_audit.py regressor_maml --label before
    OMP_NUM_THREADS=1 python -m autometa.estimators.train_maml_regressor --steps 3000
    OMP_NUM_THREADS=1 python docs/results/retrain_after_audit.py regressor_maml --label after

Each run scores the shipped file as it is now on the *cleaned* validation list of
:mod:`autometa.tasks.roles` (the list the re-fitted file was chosen on; never an evaluation
table) and writes the numbers under ``[file][label]`` of ``retrain_after_audit.json``, with the
file's sha256, so the JSON says which file each number belongs to. ``docs/data.md`` quotes it and
``tests/test_claims.py`` pins the quote.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's autometa, not another installed copy
OUT = ROOT / "docs" / "results" / "retrain_after_audit.json"


def regressor_maml() -> tuple[str, dict[str, object]]:
    """Mean R² of the MAML member alone on roles.REGRESSOR_VALIDATION (5 seeds, 32 and 128 rows)."""
    from autometa.estimators._maml_regression_member import (
        MAML_REGRESSOR_CHECKPOINT,
        load_maml_regressor,
    )
    from autometa.estimators.train_maml_regressor import maml_member_r2
    from autometa.tasks import roles

    scores = maml_member_r2(load_maml_regressor())
    return str(MAML_REGRESSOR_CHECKPOINT), {"tables": list(roles.REGRESSOR_VALIDATION), **scores}


def regressor_portfolio() -> tuple[str, dict[str, object]]:
    """The prior's leave-one-table-out normalized MSE as its training run reported it."""
    from autometa.estimators._regressor import REGRESSOR_PORTFOLIO

    info = json.loads(Path(REGRESSOR_PORTFOLIO).read_text())["info"]
    return str(REGRESSOR_PORTFOLIO), {
        "tables": info["data_sets"],
        "tasks": info["tasks"],
        "leave_one_table_out_nmse": info["leave_one_table_out"],
    }


def _shipped_quality():
    """``docs/results/shipped_quality.py`` as a module (one copy of the comparison)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "shipped_quality", Path(__file__).with_name("shipped_quality.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _classifier_member(index: int) -> tuple[str, dict[str, object]]:
    """ROC-AUC of ``AutoMetaClassifier(members=[member])`` with the shipped learner, on
    ``shipped_quality.TABLES`` (meta-validation tables: never the members' meta-training, never
    evaluation), 32 training rows, 3 seeds: the cells of ``shipped_quality.py``."""
    q = _shipped_quality()
    member, file, _kind = q.MEMBERS[index]
    path = q.CHECKPOINTS / file
    scores = q.aucs(member, path)
    return str(path), {
        "tables": list(q.TABLES),
        "n_train": q.N_TRAIN,
        "seeds": q.N_SEEDS,
        "roc_auc": round(float(scores.mean()), 4),
        "roc_auc_per_cell": [round(float(s), 4) for s in scores],
    }


def classifier_default() -> tuple[str, dict[str, object]]:
    """The ``neural`` member's file (``classifier_default.pt``): see :func:`_classifier_member`."""
    return _classifier_member(0)


def classifier_hypernet() -> tuple[str, dict[str, object]]:
    """The ``hypernet`` member's file (``classifier_hypernet.pt``): see :func:`_classifier_member`."""
    return _classifier_member(1)


SCORERS = {
    "regressor_maml": regressor_maml,
    "regressor_portfolio": regressor_portfolio,
    "classifier_default": classifier_default,
    "classifier_hypernet": classifier_hypernet,
}


def main(argv: list[str] | None = None) -> int:
    from autometa._provenance import sha256_file

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("file", choices=sorted(SCORERS))
    p.add_argument("--label", choices=("before", "after"), required=True)
    args = p.parse_args(argv)
    path, scores = SCORERS[args.file]()
    payload = json.loads(OUT.read_text()) if OUT.is_file() else {}
    payload["name"] = "retrain_after_audit"
    payload["command"] = "python docs/results/retrain_after_audit.py FILE --label before|after"
    payload.setdefault(args.file, {})[args.label] = {"sha256": sha256_file(path), **scores}
    OUT.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(payload[args.file][args.label], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
