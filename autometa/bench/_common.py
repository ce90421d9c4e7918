"""The benchmark convention shared by every ``autometa bench <name>``.

A benchmark module ``autometa/bench/<name>.py`` defines ``DESCRIPTION``,
``add_arguments(parser)`` and ``compute(args) -> BenchResult``. :func:`report` then prints
a readable table, logs the run to MLflow (parameters, one metric per numeric cell, the
JSON and any figures as artifacts) and, with ``--json PATH``, writes the same results as
JSON so people and scripts can compare runs.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autometa._version import __version__
from autometa.tracking import start_run

__all__ = [
    "BenchResult",
    "CellRecords",
    "add_common_arguments",
    "cell_ranks",
    "complete_cells",
    "format_table",
    "held_out_protocol",
    "report",
]


@dataclass
class BenchResult:
    """What a benchmark computed.

    Attributes
    ----------
    name : str
        Benchmark name (``"speed"``, ``"sampler"``...).
    rows : list of dict
        One dict per table row; keys are column names. Numeric cells become MLflow
        metrics named ``<key_columns joined by '/'>/<column>``.
    columns : list of str, optional
        Column order for the printed table (default: keys of the first row).
    key_columns : list of str, optional
        Columns that identify a row (used to name metrics); default: the non-numeric ones.
    params : dict
        Settings of the run (logged as MLflow parameters and written to JSON).
    summary : dict
        Headline numbers (e.g. ``{"speedup@32": 3.4}``), printed under the table.
    notes : list of str
        Free-text remarks printed under the table.
    figures : dict of str to matplotlib Figure
        Saved next to ``--json`` (as PNG) and logged to MLflow.
    """

    name: str
    rows: list[dict[str, Any]]
    columns: list[str] | None = None
    key_columns: list[str] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("figures")
        d["environment"] = _environment()
        return d


def held_out_protocol(
    args: argparse.Namespace, default_datasets: Sequence[str]
) -> tuple[list[int], list[str], int]:
    """``(sizes, datasets, n_seeds)`` of a held-out benchmark from its ``--sizes``, ``--datasets``,
    ``--seeds`` (default 5) and ``--quick`` (first size, two tables, one seed).

    Raises
    ------
    ValueError
        When ``--datasets`` names a table reserved by content (``roles.CONTENT_LEAKS``).
    """
    from autometa.tasks.roles import CONTENT_LEAKS

    sizes = [int(s) for s in str(args.sizes).split(",") if s]
    datasets = str(args.datasets).split(",") if args.datasets else list(default_datasets)
    leaking = [d for d in datasets if d in CONTENT_LEAKS]
    if leaking:
        raise ValueError(
            f"--datasets {','.join(leaking)}: these dev tables share rows with reserved tables "
            "(autometa.tasks.roles.CONTENT_LEAKS, found by the content audit), so they are reserved "
            "by content and no benchmark reads them; drop them from --datasets."
        )
    n_seeds = int(args.seeds or 5)
    if args.quick:
        sizes, datasets, n_seeds = sizes[:1], datasets[:2], 1
    return sizes, datasets, n_seeds


def held_out_params(
    args: argparse.Namespace,
    sizes: list[int],
    datasets: list[str],
    n_seeds: int,
    estimators: list[str],
) -> dict[str, Any]:
    """The ``params`` of a held-out benchmark's result (what :func:`held_out_protocol` chose)."""
    return {
        "sizes": sizes,
        "datasets": datasets,
        "seeds": n_seeds,
        "max_test": args.max_test,
        "estimators": estimators,
        "threads": args.threads,
    }


def hindsight_peer(
    records: Sequence[dict[str, Any]], peers: Sequence[str], metric: str, also: Sequence[str] = ()
) -> dict[int, list[dict[str, float]]]:
    """``{n_train: [per data set, the best peer's mean metrics]}``, the peer picked with hindsight.

    For each (data set, ``n_train``) on which every peer ran, the peer with the highest mean
    ``metric`` over the seeds is chosen after seeing the test results; its means of ``metric``
    and of the ``also`` metrics are kept. Empty with fewer than two peers.
    """
    if len(peers) < 2:
        return {}
    cells: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = {}
    for r in records:
        if r["estimator"] in peers:
            cells.setdefault((r["dataset"], r["n_train"]), {}).setdefault(
                r["estimator"], []
            ).append(r)
    out: dict[int, list[dict[str, float]]] = {}
    for n in sorted({n for _, n in cells}):
        best = []
        for (_, nn), c in cells.items():
            if nn == n and set(c) == set(peers):
                top = max(c, key=lambda e: np.mean([r[metric] for r in c[e]]))
                best.append({m: np.mean([r[m] for r in c[top]]) for m in (metric, *also)})
        if best:
            out[n] = best
    return out


def complete_cells(
    records: Sequence[dict[str, Any]], estimators: Sequence[str]
) -> dict[tuple[str, int, int], dict[str, dict[str, Any]]]:
    """``{(dataset, n_train, seed): {estimator: record}}`` of the cells every estimator ran on (in record order)."""
    by_cell: dict[tuple[str, int, int], dict[str, dict[str, Any]]] = {}
    for r in records:
        if r["estimator"] in estimators:
            by_cell.setdefault((r["dataset"], r["n_train"], r["seed"]), {})[r["estimator"]] = r
    return {k: c for k, c in by_cell.items() if set(c) == set(estimators)}


def cell_ranks(
    cells: dict[tuple[str, int, int], dict[str, dict[str, Any]]], metric: str
) -> dict[tuple[str, int], list[float]]:
    """``{(estimator, n_train): [rank in each cell]}``, rank 1 for the highest ``metric`` (ties averaged)."""
    from scipy.stats import rankdata

    ranks: dict[tuple[str, int], list[float]] = {}
    for (_, n, _), cell in cells.items():
        names = list(cell)
        for e, v in zip(names, rankdata([-cell[e][metric] for e in names]), strict=True):
            ranks.setdefault((e, n), []).append(float(v))
    return ranks


def mean_rows(
    complete: dict[tuple[str, int, int], dict[str, dict[str, Any]]],
    ranked_by: str,
    sizes: Sequence[int],
    estimators: Sequence[str],
    metrics: Sequence[str],
    optional: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """One summary row per (``n_train``, estimator) over the ``complete`` cells.

    A row holds the mean of each of ``metrics`` (and of the ``optional`` ones, NaN where a
    record lacks them), the median ``time_s``, the mean rank by ``ranked_by`` (see
    :func:`cell_ranks`) and the number of cells; sizes without cells get no row.
    """
    ranks = cell_ranks(complete, ranked_by)
    rows = []
    for n in sizes:
        for e in estimators:
            rs = [c[e] for (_, nn, _), c in complete.items() if nn == n]
            if not rs:
                continue
            rows.append({"n_train": n, "estimator": e,
                         **{m: float(np.mean([r[m] for r in rs])) for m in metrics},
                         **{m: float(np.mean([r.get(m, np.nan) for r in rs])) for m in optional},
                         "median_time_s": float(np.median([r["time_s"] for r in rs])),
                         "mean_rank": float(np.mean(ranks[(e, n)])), "cells": len(rs)})  # fmt: skip
    return rows


class CellRecords:
    """The per-cell records of a held-out benchmark: reused from earlier runs, appended as cells finish.

    A record is one estimator on one :func:`~autometa.tasks._cells.held_out_cells` cell
    (``estimator``, ``dataset``, ``n_train``, ``seed`` and its scores). Used as a context
    manager: records of the ``reuse`` files (JSON lines) are loaded and their cells listed in
    :attr:`done`; :meth:`add` keeps a new record, prints ``describe(record)`` and appends it to
    ``raw`` at once, so a benchmark stopped half-way continues with ``--reuse`` of that file.

    Parameters
    ----------
    reuse : sequence of path-like
        JSON-lines files of earlier runs. A cell held by several of them is taken from the last
        file that holds it (so ``--reuse peers.jsonl --reuse before.jsonl`` reports the second
        file's cells of an estimator both files hold).
    raw : path-like, optional
        Where new records are appended.
    describe : callable
        ``record -> str``: the progress line of a record.
    """

    def __init__(
        self,
        reuse: Sequence[str | Path],
        raw: str | Path | None,
        describe: Callable[[dict[str, Any]], str],
    ) -> None:
        cells: dict[tuple[Any, ...], dict[str, Any]] = {}
        for path in reuse:
            for line in Path(path).read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    key = (
                        record["estimator"],
                        record["dataset"],
                        record["n_train"],
                        record["seed"],
                    )
                    cells.pop(key, None)  # the later file's record, in the later file's order
                    cells[key] = record
        self.records: list[dict[str, Any]] = list(cells.values())
        #: ``(estimator, dataset, n_train, seed)`` of every reused record
        self.done = set(cells)
        self._raw_path, self._describe = raw, describe
        self._raw: Any = None

    def __enter__(self) -> CellRecords:
        self._raw = open(self._raw_path, "a") if self._raw_path else None  # noqa: SIM115 - closed on exit
        return self

    def __exit__(self, *exc: object) -> None:
        if self._raw is not None:
            self._raw.close()

    def add(self, record: dict[str, Any]) -> None:
        """Keep ``record``, print its line, append it to the raw file."""
        self.records.append(record)
        print(self._describe(record), flush=True)
        if self._raw is not None:
            self._raw.write(json.dumps(record) + "\n")
            self._raw.flush()

    def select(
        self, sizes: Sequence[int], datasets: Sequence[str], n_seeds: int
    ) -> list[dict[str, Any]]:
        """The records of these sizes, tables and the first ``n_seeds`` seeds."""
        return [
            r
            for r in self.records
            if r["n_train"] in sizes and r["dataset"] in datasets and r["seed"] < n_seeds
        ]


def _environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        env["threads"] = torch.get_num_threads()
    except Exception:  # pragma: no cover
        pass

    env["autometa"] = __version__
    return env


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every benchmark accepts."""
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (benchmark default if omitted)"
    )
    parser.add_argument("--quick", action="store_true", help="a tiny configuration for smoke tests")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log the run to MLflow")
    parser.add_argument("--experiment", default="autometa-bench", help="MLflow experiment name")


def add_learner_arguments(parser: argparse.ArgumentParser, estimator: str) -> None:
    """``--in-context-learner`` and ``--n-ensemble``: a candidate learner for every ``estimator`` variant."""
    parser.add_argument(
        "--in-context-learner",
        metavar="PATH",
        default=None,
        help=f"every {estimator} variant of the run reads this in-context checkpoint "
        "instead of the shipped one (a candidate snapshot; compare on validation tables)",
    )
    parser.add_argument(
        "--n-ensemble",
        type=int,
        default=None,
        help=f"every {estimator} variant of the run uses this n_ensemble (default: theirs)",
    )


def autometa_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The estimator parameters :func:`add_learner_arguments`' options set on every autometa variant.

    Raises
    ------
    FileNotFoundError
        When ``--in-context-learner`` names no file.
    ValueError
        When ``--n-ensemble`` is below 1.
    """
    out: dict[str, Any] = {}
    if getattr(args, "in_context_learner", None):
        path = Path(args.in_context_learner)
        if not path.exists():
            raise FileNotFoundError(
                f"--in-context-learner {path}: no such checkpoint; export a campaign snapshot "
                "with `autometa meta-train --preset ... --ship` or save_meta_learner first."
            )
        out["in_context_learner"] = str(path)
    if getattr(args, "n_ensemble", None) is not None:
        if int(args.n_ensemble) < 1:
            raise ValueError(f"--n-ensemble must be at least 1; got {args.n_ensemble}.")
        out["n_ensemble"] = int(args.n_ensemble)
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        a = abs(v)
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{v:.3g}"
        return f"{v:.4f}" if a < 10 else f"{v:.2f}"
    return str(v)


def format_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Plain-text table (also valid GitHub markdown)."""
    if not rows:
        return "(no rows)"
    cols = columns or list(rows[0])
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    return "\n".join([line, sep, *body])


def _metric_items(result: BenchResult) -> dict[str, float]:
    out: dict[str, float] = {}
    if not result.rows:
        return out
    keys = result.key_columns or [
        k
        for k, v in result.rows[0].items()
        if not isinstance(v, (int, float)) or isinstance(v, bool)
    ]
    for row in result.rows:
        prefix = "/".join(str(row.get(k)) for k in keys)
        for k, v in row.items():
            if k in keys or isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            name = f"{prefix}/{k}" if prefix else k
            out["".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in name)] = float(v)
    for k, v in result.summary.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out["summary/" + "".join(ch if ch.isalnum() or ch in "_-./ " else "_" for ch in k)] = (
                float(v)
            )
    return out


def report(result: BenchResult, args: argparse.Namespace) -> int:
    """Print, write JSON (``args.json``) and log to MLflow (unless ``args.no_mlflow``)."""
    print(f"\n== autometa bench {result.name} ==")
    if result.params:
        print("settings: " + ", ".join(f"{k}={v}" for k, v in result.params.items()))
    print(format_table(result.rows, result.columns))
    for k, v in result.summary.items():
        print(f"{k}: {_fmt(v)}")
    for note in result.notes:
        print(f"note: {note}")
    payload = result.to_json()
    fig_paths: list[Path] = []
    if getattr(args, "json", None):
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, default=str))
        for fname, fig in result.figures.items():
            p = path.with_name(f"{path.stem}_{fname}")
            fig.savefig(p, dpi=120, bbox_inches="tight")
            fig_paths.append(p)
        print(f"wrote {path}" + "".join(f", {p}" for p in fig_paths))
    if not getattr(args, "no_mlflow", False):
        with start_run(
            experiment=getattr(args, "experiment", "autometa-bench"),
            run_name=f"bench-{result.name}",
            params=result.params,
            tags={"autometa.bench": result.name},
        ) as run:
            run.log_metrics(_metric_items(result))
            run.log_dict(payload, f"bench_{result.name}.json")
            for fname, fig in result.figures.items():
                run.log_figure(fig, fname)
            if run.run_id:
                print(f"logged to MLflow run {run.run_id} at {run.tracking_uri}")
    return 0
