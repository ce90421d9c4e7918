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


def _in_context_learner(
    kind: str, preset: str, campaign: str | None
) -> tuple[object, str, dict[str, object]]:
    """The shipped learner ``kind`` (``campaign`` None), or a campaign's current snapshot
    (``InContextCampaign.snapshot``, not shipped); its path; where it stands in its campaign."""
    from autometa.estimators._shipped import load_learner, shipped_path

    if campaign is None:
        return load_learner("default", kind), str(shipped_path(kind)), {}
    from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign

    run = InContextCampaign(campaign, tracking=False, **CAMPAIGN_PRESETS[preset]())
    learner, curve = run.snapshot(timeout=60)
    where = {
        "campaign": campaign,
        "step": int(curve[-1]["step"]),
        "cpu_hours": round(float(curve[-1]["cpu_hours"]), 3),
    }
    return learner, str(Path(campaign) / "resume.pt"), where


def regressor_in_context(campaign: str | None = None) -> tuple[str, dict[str, object]]:
    """Mean R² and 80% coverage of the in-context regression learner alone on
    roles.REGRESSOR_VALIDATION (seeds 0-4, 32 and 128 rows: ``held_out_r2``, the measure of the
    campaign's curve): the shipped file, or with ``campaign`` a retrain campaign's current
    snapshot that is not shipped."""
    from autometa.meta._held_out import held_out_r2
    from autometa.tasks import roles

    learner, path, where = _in_context_learner(
        "regressor_in_context", "in-context-regression", campaign
    )
    scores = held_out_r2(learner, seeds=range(5))
    return path, {
        **where,
        "tables": list(roles.REGRESSOR_VALIDATION),
        "seeds": 5,
        **{k: round(float(v), 4) for k, v in scores.items()},
    }


def classifier_in_context(campaign: str | None = None) -> tuple[str, dict[str, object]]:
    """Mean ROC-AUC of the in-context classification learner alone on the campaign's held-out
    tables (``autometa.meta._held_out.EVAL_DATASETS``: dev tables never trained on, never
    evaluation), seeds 0-2 (the campaign's curve reads seed 0 only), 32 / 128 / 512 rows
    (``held_out_auc``, the measure of the campaign's curve): the shipped file, or with
    ``campaign`` a campaign's current snapshot that is not shipped."""
    from autometa.meta._held_out import EVAL_DATASETS, held_out_auc

    learner, path, where = _in_context_learner("classifier_in_context", "in-context", campaign)
    scores = held_out_auc(learner, seeds=range(3))
    return path, {
        **where,
        "tables": list(EVAL_DATASETS),
        "seeds": 3,
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


def classifier_portfolio() -> tuple[str, dict[str, object]]:
    """The portfolio's held-out scores as its training run reported them (``model_card.json``
    ``portfolio``: leave-data-set-family-out on the portfolio pool, never evaluation tables)."""
    from autometa.estimators._shipped import shipped_path

    path = shipped_path("classifier_portfolio")
    card = json.loads(path.with_name("model_card.json").read_text())["portfolio"]
    scores = card["held_out_scores"]
    return str(path), {
        "tasks": card["n_tasks"],
        "held_out_families": card["held_out_families"],
        "held_out_tasks": int(scores["n_tasks"]),
        **{k: round(float(scores[f"auc/{k}"]), 4) for k in ("learned", "uniform", "icl")},
    }


def classifier_combiner() -> tuple[str, dict[str, object]]:
    """The combiner's chosen ``n0`` and its held-out ROC-AUC as ``train_combiner`` reported them
    (tasks cut from ``roles.CLASSIFIER_PORTFOLIO_TRAIN`` tables)."""
    from autometa.estimators.train_combiner import COMBINER_FILE

    payload = json.loads(Path(COMBINER_FILE).read_text())
    info = payload["info"]
    key = "inf" if payload["n0"] is None else f"{float(payload['n0']):g}"
    return str(COMBINER_FILE), {
        "tables": info["data_sets"],
        "tasks": info["tasks"],
        "n0": payload["n0"],
        "roc_auc": round(float(info["auc_by_n0"][key]), 4),
        "roc_auc_prior_only": round(float(info["auc_by_n0"]["inf"]), 4),
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
    "classifier_in_context": classifier_in_context,
    "classifier_portfolio": classifier_portfolio,
    "classifier_combiner": classifier_combiner,
    "regressor_portfolio": regressor_portfolio,
    "classifier_default": classifier_default,
    "classifier_hypernet": classifier_hypernet,
}

CAMPAIGN_SCORERS = ("regressor_in_context", "classifier_in_context")


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
        "--campaign",
        default=None,
        help="regressor_in_context / classifier_in_context: score this campaign's snapshot",
    )
    args = p.parse_args(argv)
    if args.campaign is not None and args.file not in CAMPAIGN_SCORERS:
        p.error(f"--campaign applies to {' and '.join(CAMPAIGN_SCORERS)} only")
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
