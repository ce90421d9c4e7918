"""Is a v2 snapshot a better ``icl`` member than the shipped v1, and at what cost?

Scores the shipped v1 learner and the v2 campaign's current weights (its moving average, and
``v2raw``: the same run's raw weights, i.e. the no-averaging ablation at equal CPU time) on
the campaign's validation tables (``IN_CONTEXT_VALIDATION``, the learning curve's cells) with
several ensemble sizes and support caps, and times ``in_context_proba`` at 512 training rows and
2,000 rows to classify (one thread, process CPU seconds, median of 3). Writes
``docs/results/in_context_v2_member.json``::

    OMP_NUM_THREADS=1 python campaigns/v2_member.py [--configs v1:4:1024,v2:1:256,...]
    python campaigns/v2_member.py --export runs/v2_candidate.pt   # a checkpoint for the estimators
    python campaigns/v2_member.py --export runs/regv2.pt --preset in-context-regression-v2 \
        --campaign campaigns/in-context-regression-v2-cooldown           # the regressor's candidate
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from autometa.bench._common import _environment as environment
from autometa.estimators._in_context_member import load_in_context_learner
from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign
from autometa.meta._checkpoint import load_checkpoint
from autometa.meta._held_out import EVAL_DATASETS, held_out_auc
from autometa.meta._in_context import in_context_proba

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "results" / "in_context_v2_member.json"
DEFAULT = "v1:4:1024,v2:4:1024,v2:1:1024,v2:2:256,v2:1:256,v2:1:128"


def _v2(directory: Path):
    """The campaign's scored learner (the moving average), its raw weights, and its curve's last entry."""
    campaign = InContextCampaign(directory, tracking=False, **CAMPAIGN_PRESETS["in-context-v2"]())
    learner, curve = campaign.snapshot()
    raw = campaign.learner_class(**learner.get_config())
    raw.load_state_dict(load_checkpoint(directory / "last.pt")["state_dict"])
    return learner, raw.eval(), curve[-1]


def export_averaged(directory: Path, path: Path, preset: str = "in-context-v2") -> int:
    """Save the scored learner of ``directory/last.pt`` (its moving average, where the recipe
    keeps one) as a learner checkpoint; return its step.

    The file is what ``AutoMetaClassifier(in_context_learner=path)`` (or ``AutoMetaRegressor``
    for a regression preset) and ``autometa bench classifier|regressor --in-context-learner
    path`` read (a candidate, not the shipped member). A cool-down branch names its preset's
    directory; its stored cool-down window is read from the folder.
    """
    from autometa.meta._checkpoint import save_meta_learner

    campaign = InContextCampaign(directory, tracking=False, **CAMPAIGN_PRESETS[preset]())
    learner, curve = campaign.snapshot()
    step = int(curve[-1]["step"])
    save_meta_learner(
        learner,
        path,
        metadata={"campaign_step": step, "source": f"{directory} (scored weights), a candidate"},
    )
    return step


def _cost(learner, n_members: int, max_support: int, repeats: int = 3) -> float:
    """CPU seconds of one in_context_proba call: 512 training rows, 2,000 rows, 20 columns, 2 classes."""
    rng = np.random.default_rng(0)
    d = learner.d_max
    xs = torch.from_numpy(rng.normal(size=(512, d)).astype(np.float32))
    xq = torch.from_numpy(rng.normal(size=(2000, d)).astype(np.float32))
    ys = torch.from_numpy(rng.integers(0, 2, size=512))
    fm = torch.zeros(d, dtype=torch.bool)
    fm[:20] = True
    times = []
    for _ in range(repeats):
        t0 = time.process_time()
        with torch.no_grad():
            in_context_proba(
                learner, xs, ys, xq, fm, 2, n_members=n_members, max_support=max_support
            )
        times.append(time.process_time() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs", default=DEFAULT, help="learner:members:max_support, comma-separated"
    )
    parser.add_argument("--campaign", type=Path, default=ROOT / "campaigns" / "in-context-v2")
    parser.add_argument("--json", type=Path, default=OUT)
    parser.add_argument(
        "--export",
        type=Path,
        default=None,
        help="only save the campaign's moving average (last.pt) as a learner checkpoint here",
    )
    parser.add_argument(
        "--preset",
        default="in-context-v2",
        help="the campaign's preset, for --export (e.g. in-context-regression-v2)",
    )
    args = parser.parse_args(argv)
    if args.export is not None:
        step = export_averaged(args.campaign, args.export, args.preset)
        print(f"saved the step-{step} moving average to {args.export}", file=sys.stderr)
        return 0
    torch.set_num_threads(1)
    learners = {"v1": (load_in_context_learner("default"), None)}
    v2, raw, entry = _v2(args.campaign)
    learners["v2"] = (v2, entry)
    learners["v2raw"] = (
        raw,
        entry,
    )  # the same run's weights without averaging (no-averaging ablation)
    rows = []
    for spec in args.configs.split(","):
        name, m, s = spec.split(":")
        learner, _ = learners[name]
        t0 = time.process_time()
        scores = held_out_auc(learner, EVAL_DATASETS, n_members=int(m), max_support=int(s))
        row = {
            "learner": name,
            "n_members": int(m),
            "max_support": int(s),
            **{k: round(v, 4) for k, v in scores.items()},
            "predict_cpu_s_512x2000": round(_cost(learner, int(m), int(s)), 4),
            "scoring_cpu_s": round(time.process_time() - t0, 1),
        }
        print(json.dumps(row), file=sys.stderr, flush=True)
        rows.append(row)
    out = {
        "name": "in-context-v2-member",
        "rows": rows,
        "v2_snapshot": {
            "step": int(entry["step"]),
            "cpu_hours": round(float(entry["cpu_hours"]), 3),
        },
        "validation_tables": list(EVAL_DATASETS),
        "command": "OMP_NUM_THREADS=1 python campaigns/v2_member.py --configs " + args.configs,
        "environment": environment(),
    }
    args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
