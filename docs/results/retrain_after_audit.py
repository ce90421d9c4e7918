"""Before/after numbers of the files re-fitted after the content audit, on validation tables only.

Run from the repository root, once before and once after re-fitting a file::

    OMP_NUM_THREADS=1 python docs/results/retrain_after_audit.py regressor_maml --label before
    OMP_NUM_THREADS=1 python -m autometa.estimators.train_maml_regressor --steps 3000
    OMP_NUM_THREADS=1 python docs/results/retrain_after_audit.py regressor_maml --label after

A retrain that is scored but not shipped (``regressor_in_context`` from a campaign folder) goes
under a label of its own::

    python docs/results/retrain_after_audit.py regressor_in_context --label short-retrain \
        --campaign campaigns/in-context-regression-audited-cooldown

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


def regressor_in_context(campaign: str | None = None) -> tuple[str, dict[str, object]]:
    """Mean R² and 80% coverage of the in-context regression learner alone on
    roles.REGRESSOR_VALIDATION (seeds 0-4, 32 and 128 rows: ``held_out_r2``, the measure of the
    campaign's curve): the shipped file, or with ``campaign`` a retrain campaign's current
    snapshot (``InContextCampaign.snapshot``) that is not shipped."""
    from autometa.estimators._shipped import load_learner, shipped_path
    from autometa.meta._held_out import held_out_r2
    from autometa.tasks import roles

    where: dict[str, object] = {}
    if campaign is None:
        learner, path = (
            load_learner("default", "regressor_in_context"),
            shipped_path("regressor_in_context"),
        )
    else:
        from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign

        run = InContextCampaign(
            campaign, tracking=False, **CAMPAIGN_PRESETS["in-context-regression"]()
        )
        learner, curve = run.snapshot(timeout=60)
        path = Path(campaign) / "resume.pt"
        where = {
            "campaign": campaign,
            "step": int(curve[-1]["step"]),
            "cpu_hours": round(float(curve[-1]["cpu_hours"]), 3),
        }
    scores = held_out_r2(learner, seeds=range(5))
    return str(path), {
        **where,
        "tables": list(roles.REGRESSOR_VALIDATION),
        "seeds": 5,
        **{k: round(float(v), 4) for k, v in scores.items()},
    }


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
    "regressor_in_context": regressor_in_context,
    "regressor_portfolio": regressor_portfolio,
    "classifier_default": classifier_default,
    "classifier_hypernet": classifier_hypernet,
}


def main(argv: list[str] | None = None) -> int:
    from autometa._provenance import sha256_file

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("file", choices=sorted(SCORERS))
    p.add_argument(
        "--label",
        required=True,
        help="before | after (the shipped file), or a name for a scored candidate (with --campaign)",
    )
    p.add_argument(
        "--campaign", default=None, help="regressor_in_context: score this campaign's snapshot"
    )
    args = p.parse_args(argv)
    if args.campaign is not None and args.file != "regressor_in_context":
        p.error("--campaign applies to regressor_in_context only")
    scorer = SCORERS[args.file]
    path, scores = scorer(args.campaign) if args.campaign else scorer()
    payload = json.loads(OUT.read_text()) if OUT.is_file() else {}
    payload["name"] = "retrain_after_audit"
    payload["command"] = "python docs/results/retrain_after_audit.py FILE --label before|after"
    payload.setdefault(args.file, {})[args.label] = {"sha256": sha256_file(path), **scores}
    OUT.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(payload[args.file][args.label], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
