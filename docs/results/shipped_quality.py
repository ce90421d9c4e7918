"""Shipped neural members against their untrained selves on validation tables; writes shipped_quality.json.

Run from the repository root: ``OMP_NUM_THREADS=1 python docs/results/shipped_quality.py``
(a few minutes on two cores; ``--member hypernet`` re-measures one member and keeps the other's
row, e.g. after retraining one file). Each shipped learner is used the way ``AutoMetaClassifier`` uses
it (``members=[member]``) and compared with the same architecture rebuilt with its training
seed and never trained, on meta-validation tables of
:data:`autometa.tasks.roles.CLASSIFIER_PORTFOLIO_TRAIN` (never in the members' meta-training,
never evaluation tables), 32 training rows, 3 seeds, the same rows for both.
``tests/checkpoints/test_shipped_quality.py`` runs the same comparison; ``docs/data.md`` quotes
the JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # this checkout's autometa, not another installed copy
CHECKPOINTS = ROOT / "autometa" / "checkpoints"
TABLES = ("keel/banana", "keel/titanic", "keel/twonorm")
N_TRAIN, N_SEEDS = 32, 3
MEMBERS = (
    ("neural", "classifier_default.pt", "meta-lstm+augment"),
    ("hypernet", "classifier_hypernet.pt", "hypernet+augment"),
)


def untrained_copy(file: str, kind: str, folder: Path) -> Path:
    """The shipped learner's architecture, initialized with its training seed, saved untrained."""
    import torch

    from autometa.estimators.train_default import build_neural_learner
    from autometa.meta import load_meta_learner, save_meta_learner
    from autometa.meta._checkpoint import load_checkpoint

    shipped = load_meta_learner(CHECKPOINTS / file)
    meta = load_checkpoint(CHECKPOINTS / file)["metadata"]
    meta = json.loads(meta) if isinstance(meta, str) else meta
    torch.manual_seed(int(meta["trainer"]["seed"]))
    init = build_neural_learner(kind)
    if not hasattr(shipped, "policy"):  # the shipped file carries no augmentation policy
        init = init.base
    path = folder / f"untrained_{file}"
    save_meta_learner(init, path, metadata={"note": "untrained, for the quality comparison"})
    return path


def aucs(member: str, learner: str | Path) -> np.ndarray:
    """ROC-AUC of ``AutoMetaClassifier(members=[member])`` with ``learner`` on every cell."""
    from autometa.bench.classifier import _cells, classification_metrics, fit_predict_timed
    from autometa.estimators import AutoMetaClassifier

    key = "meta_learner" if member == "neural" else "hypernet_learner"
    out = []
    for _name, _n, seed, Xtr, ytr, Xte, yte in _cells(list(TABLES), [N_TRAIN], N_SEEDS, 500):
        est = AutoMetaClassifier(members=[member], random_state=seed, **{key: str(learner)})
        proba, _ = fit_predict_timed(est, Xtr, ytr, Xte)
        classes = np.unique(ytr)
        full = np.zeros((len(yte), len(classes)))
        full[:, np.searchsorted(classes, np.asarray(est.classes_))] = proba
        out.append(classification_metrics(yte, full, classes)["roc_auc"])
    return np.asarray(out)


def row(member: str, file: str, kind: str, folder: Path) -> dict[str, object]:
    """One member's comparison: the shipped file against its untrained self, cell by cell."""
    shipped = aucs(member, CHECKPOINTS / file)
    untrained = aucs(member, untrained_copy(file, kind, folder))
    return {
        "member": member,
        "file": file,
        "shipped": float(shipped.mean()),
        "untrained": float(untrained.mean()),
        "cells_won": int((shipped > untrained).sum()),
        "cells": len(shipped),
        "shipped_per_cell": shipped.tolist(),
        "untrained_per_cell": untrained.tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument(
        "--member",
        choices=[m for m, _, _ in MEMBERS],
        action="append",
        help="re-measure only this member (repeatable; the other rows of the JSON are kept, "
        "e.g. after retraining one file); default: every member",
    )
    args = p.parse_args(argv)
    path = Path(__file__).with_suffix(".json")
    chosen = set(args.member or [m for m, _, _ in MEMBERS])
    kept = {r["member"]: r for r in json.loads(path.read_text())["rows"]} if path.is_file() else {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for member, file, kind in MEMBERS:
            if member not in chosen and member in kept:
                rows.append(kept[member])
                continue
            rows.append(row(member, file, kind, Path(tmp)))
            print(
                member, round(rows[-1]["shipped"], 4), round(rows[-1]["untrained"], 4), flush=True
            )
    out = {
        "name": "shipped_quality",
        "command": "OMP_NUM_THREADS=1 python docs/results/shipped_quality.py [--member neural|hypernet]",
        "tables": list(TABLES),
        "n_train": N_TRAIN,
        "seeds": N_SEEDS,
        "rows": rows,
    }
    path.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
