"""The ``autometa`` command line.

Each subcommand lives in its own module of :mod:`autometa._commands` that defines
``add_arguments(parser)`` and ``run(args) -> int`` (a ``ValueError`` or ``FileNotFoundError``
it raises is reported here as ``autometa <command>: error: ...`` with exit code 2); the module is imported only when its
subcommand runs, so ``autometa --help`` and ``autometa info`` stay fast. The same entry point
serves ``python -m autometa`` and ``torchrun ... -m autometa meta-train ...``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from autometa._rst import plain_text
from autometa._version import __version__

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "info": (
        "autometa._commands.info",
        "Print version, device, tracking URI, shipped checkpoints and task pools.",
    ),
    "demo": (
        "autometa._commands.demo",
        "Run the main job on the embedded defaults (what `make demo` runs).",
    ),
    "meta-train": (
        "autometa._commands.meta_train",
        "Meta-train a learner on a task pool (resumable, tracked, torchrun-ready).",
    ),
    "evaluate": (
        "autometa._commands.evaluate",
        "Evaluate a meta-learner checkpoint on held-out episodes.",
    ),
    "bench": (
        "autometa._commands.bench",
        "Run a benchmark: prints a table, logs to MLflow, --json PATH writes JSON.",
    ),
    "audit": (
        "autometa._commands.audit",
        "Audit by content: which dev tables share rows with a reserved or evaluation table.",
    ),
}

_EPILOG = """examples:
  autometa info
  autometa meta-train --algo maml --pool synthetic --steps 1000 --device auto
  torchrun --nproc_per_node 2 -m autometa meta-train --algo maml --pool synthetic --steps 1000
  autometa bench speed --json speed.json
"""


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autometa",
        description="autometa: meta-learning for small tabular tasks.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"autometa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_) in COMMANDS.items():
        sub.add_parser(name, help=help_, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] not in COMMANDS:
        # --help, --version, or an unknown command: argparse prints the right message.
        top.parse_args(argv or ["--help"])
        return 0
    name, rest = argv[0], argv[1:]
    module_name, help_ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("autometa"):
            print(
                f"autometa {name}: not available in this version ({exc.name} missing).",
                file=sys.stderr,
            )
            return 2
        raise
    parser = argparse.ArgumentParser(
        prog=f"autometa {name}",
        description=plain_text(getattr(module, "DESCRIPTION", help_)),
        epilog=plain_text(getattr(module, "EPILOG", None)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except (ValueError, FileNotFoundError) as exc:
        # the one error wrapper: autometa's own errors say what to do; no traceback for them
        print(f"autometa {name}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
