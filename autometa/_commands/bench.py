"""``autometa bench <name>``: dispatch to ``autometa/bench/<name>.py`` and report."""

from __future__ import annotations

import argparse
import importlib
import sys

from autometa._rst import plain_text
from autometa.bench import BENCHMARKS
from autometa.bench._common import add_common_arguments, report

DESCRIPTION = (
    "Run a benchmark. Each prints a readable table, logs the run to MLflow (default local store\n"
    "under ./mlruns, or $MLFLOW_TRACKING_URI) and with --json PATH writes the same results as JSON.\n"
    "Benchmarks: " + ", ".join(BENCHMARKS)
)
EPILOG = "run `autometa bench NAME --help` for a benchmark's own options"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    try:
        module = importlib.import_module(BENCHMARKS[args.name])
    except ModuleNotFoundError as exc:
        if exc.name == BENCHMARKS[args.name]:
            print(f"autometa bench {args.name}: not available in this version.", file=sys.stderr)
            return 2
        raise
    parser = argparse.ArgumentParser(
        prog=f"autometa bench {args.name}",
        description=plain_text(getattr(module, "DESCRIPTION", None)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_arguments(parser)
    module.add_arguments(parser)
    bench_args = parser.parse_args(args.rest)
    result = module.compute(bench_args)
    return report(result, bench_args)
