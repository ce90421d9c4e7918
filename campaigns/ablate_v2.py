"""Ablation runs of the in-context v2 recipe at equal CPU time (see docs/in_context.md).

Each variant is the ``--preset in-context-v2`` campaign with one change, trained in its own
folder under ``campaigns/``; the learning curves (held-out AUC against CPU-hours) are compared
at equal CPU-hours. Run: ``python campaigns/ablate_v2.py VARIANT --cpu-hours 0.5`` (resumes; ``--hours H`` bounds
the wall-clock time of one session).
"""

from __future__ import annotations

import argparse

from autometa.meta._campaign import CAMPAIGN_PRESETS, InContextCampaign

VARIANTS = {
    "prior2": lambda c: c["prior_config"].update(kind="v2"),
    "adamw": lambda c: c.update(optimizer="adamw", lr=5e-4),
    "no-grouping": lambda c: c["learner_config"].update(group_offsets=[0]),
    "no-thinking": lambda c: c["learner_config"].update(thinking_rows=0),
    "no-averaging": lambda c: c.update(ema_decay=None),
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("variant", choices=sorted(VARIANTS))
    parser.add_argument(
        "--hours", type=float, default=None, help="wall-clock budget of this session"
    )
    parser.add_argument(
        "--cpu-hours",
        type=float,
        default=None,
        help="stop after the first evaluation past this many CPU-hours in all (the comparison budget)",
    )
    args = parser.parse_args()
    config = CAMPAIGN_PRESETS["in-context-v2"]()
    VARIANTS[args.variant](config)
    InContextCampaign(f"campaigns/in-context-v2-{args.variant}", **config).run(
        hours=args.hours, cpu_hours=args.cpu_hours
    )
