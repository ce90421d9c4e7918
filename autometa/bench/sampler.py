"""``autometa bench sampler``: transfer HPO on HPOBench, leave one data set out.

For each held-out HPOBench data set and seed, the source studies are 50-trial TPE studies on
each of the 7 other data sets; every sampler then runs 50 trials on the held-out table
(the same noisy evaluations for all samplers of a seed). MetaSampler's meta-knowledge is
re-trained for every fold on the 7 other tables (plus synthetic functions), so it never sees
the held-out data set. Metric: percentile regret of the incumbent (share of the table's 30,000
configurations whose mean accuracy over the table's 5 seeds is strictly better), at trials
10, 25 and 50; mean rank among samplers; wall time per trial around trial 50.

The objective is the table's mean validation accuracy over its 5 seeds (``--noisy``: one seed
drawn at random per evaluation, the same draws for every sampler of a seed).

Optional peer ``metalearn-tpe``: OptunaHub's ``samplers/meta_learn_tpe`` (``MetaLearnTPESampler``,
task-similarity-weighted TPE, Watanabe et al. 2023) with the same 7 source studies and seed. It
needs ``optuna<5`` and ``--metalearn-tpe-root PATH``, a local OptunaHub registry root (the
folder holding ``samplers/meta_learn_tpe``); nothing is downloaded at run time.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__
_CHECKPOINTS = (10, 25, 50)
_SAMPLERS = ("meta", "random", "tpe", "gp", "cmaes")
_OPTIONAL_SAMPLERS = ("metalearn-tpe",)
_ALL_SAMPLERS = _SAMPLERS + _OPTIONAL_SAMPLERS
_NEEDS_SOURCES = ("meta", "cmaes", "metalearn-tpe")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autometa.optuna._pool import HPOBENCH_DATASETS

    parser.add_argument(
        "--datasets",
        default=",".join(HPOBENCH_DATASETS),
        help="comma-separated held-out HPOBench data sets (default: all 8)",
    )
    parser.add_argument("--samplers", default=",".join(_SAMPLERS), help=f"subset of {','.join(_ALL_SAMPLERS)}")
    parser.add_argument("--n-trials", type=int, default=50, help="trials per study (default 50)")
    parser.add_argument("--source-trials", type=int, default=50, help="trials per TPE source study (default 50)")
    parser.add_argument("--records", metavar="PATH", help="append one JSON line per finished study to PATH")
    parser.add_argument(
        "--from-records",
        metavar="PATHS",
        help="comma-separated --records files of earlier (e.g. parallel) runs: summarize them, run nothing",
    )
    parser.add_argument(
        "--metalearn-tpe-root",
        metavar="PATH",
        help="local OptunaHub registry root holding samplers/meta_learn_tpe; enables the metalearn-tpe "
        "sampler (needs optuna<5)",
    )
    parser.add_argument(
        "--noisy",
        action="store_true",
        help="evaluate one of the table's 5 seeds at random (default: the mean over the 5 seeds)",
    )


def _load_metalearn_tpe(root: str | Path | None) -> Any:
    """Return OptunaHub's ``MetaLearnTPESampler`` class from a local registry root.

    Parameters
    ----------
    root : str or Path or None
        Folder that holds ``samplers/meta_learn_tpe`` (e.g. ``package/`` of a checkout of
        ``optuna/optunahub-registry``).

    Raises
    ------
    SystemExit
        If ``root`` is missing or lacks the package, or if the installed Optuna is 5 or newer.
    """
    import optuna

    if root is None:
        raise SystemExit(
            "sampler 'metalearn-tpe' needs --metalearn-tpe-root PATH: a local OptunaHub registry root "
            "holding samplers/meta_learn_tpe (e.g. the package/ folder of optuna/optunahub-registry)."
        )
    package = Path(root) / "samplers" / "meta_learn_tpe"
    if not (package / "__init__.py").is_file():
        raise SystemExit(f"--metalearn-tpe-root {root}: {package}/__init__.py not found.")
    if int(optuna.__version__.split(".")[0]) >= 5:
        raise SystemExit(
            f"sampler 'metalearn-tpe' needs optuna<5 (installed: {optuna.__version__}); run the benchmark "
            "in a separate environment with 'optuna>=4.8,<5' and merge the --records files with --from-records."
        )
    import optunahub

    return optunahub.load_local_module(package="samplers/meta_learn_tpe", registry_root=str(root)).MetaLearnTPESampler


def _make_sampler(name: str, seed: int, sources: list[Any], knowledge: Any, metalearn_tpe: Any = None) -> Any:
    import optuna

    from autometa.optuna import MetaSampler

    if name == "metalearn-tpe":
        return metalearn_tpe(source_studies=sources, seed=seed)
    if name == "meta":
        return MetaSampler(source_studies=sources, knowledge=knowledge, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        source_trials = [t for s in sources for t in s.get_trials(deepcopy=False) if t.state.is_finished()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.samplers.CmaEsSampler(seed=seed, source_trials=source_trials or None)
    raise ValueError(f"unknown sampler {name!r}; choose from {_ALL_SAMPLERS}.")


def _run_study(
    sampler: Any, table: Any, n_trials: int, noise_seed: int | None
) -> tuple[list[float], list[float], list[float]]:
    """Run one maximization study; return the incumbent's regret, wall and CPU time per trial."""
    import optuna

    from autometa.optuna._pool import suggest_hpobench

    rng = None if noise_seed is None else np.random.default_rng(noise_seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    regrets: list[float] = []
    times: list[float] = []
    cpu: list[float] = []
    last = [time.perf_counter(), time.process_time()]

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        now, now_cpu = time.perf_counter(), time.process_time()
        times.append(now - last[0])
        cpu.append(now_cpu - last[1])
        regrets.append(table.percentile_regret(study.best_params))
        last[0], last[1] = time.perf_counter(), time.process_time()  # exclude the regret lookup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(lambda t: table.evaluate(suggest_hpobench(t), rng), n_trials=n_trials, callbacks=[callback])
    return regrets, times, cpu


def compute(args: argparse.Namespace) -> BenchResult:
    import optuna

    from autometa.optuna._pool import HPOBENCH_DATASETS, HPOBenchTable, suggest_hpobench
    from autometa.optuna._train import learn_designs, train_meta_knowledge

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if getattr(args, "from_records", None):
        return summarize_records_file(*args.from_records.split(","))
    datasets = [d for d in args.datasets.split(",") if d]
    samplers = [s for s in args.samplers.split(",") if s]
    for s in samplers:
        if s not in _ALL_SAMPLERS:
            raise SystemExit(f"unknown sampler {s!r}; choose from {','.join(_ALL_SAMPLERS)}")
    metalearn_tpe = None
    if "metalearn-tpe" in samplers:
        metalearn_tpe = _load_metalearn_tpe(getattr(args, "metalearn_tpe_root", None))
    n_trials, source_trials = args.n_trials, args.source_trials
    n_seeds = args.seeds if args.seeds is not None else 5
    if args.quick:
        if args.datasets == ",".join(HPOBENCH_DATASETS):
            datasets = ["car", "credit_g"]
        n_trials, source_trials = min(n_trials, 12), min(source_trials, 12)
        n_seeds = 1 if args.seeds is None else n_seeds
    checkpoints = [c for c in _CHECKPOINTS if c <= n_trials] or [n_trials]
    start = time.perf_counter()
    tables = {name: HPOBenchTable(name) for name in HPOBENCH_DATASETS}

    # Synthetic part of the meta-knowledge: shared by all folds (never sees a table).
    fold_knowledge: dict[str, Any] = {}
    if "meta" in samplers:
        designs = learn_designs(3 if args.quick else 8, 10, 16 if args.quick else 96, 64 if args.quick else 256, seed=1)
    for held in datasets if "meta" in samplers else []:
        others = [n for n in HPOBENCH_DATASETS if n != held]
        fold_knowledge[held], _ = train_meta_knowledge(others, seed=0, quick=args.quick, tables=tables, designs=designs)

    records: list[dict[str, Any]] = []
    for seed in range(n_seeds):
        sources: dict[str, Any] = {}
        need_sources = any(s in samplers for s in _NEEDS_SOURCES)
        for name in HPOBENCH_DATASETS if need_sources else []:
            src = optuna.create_study(
                study_name=f"tpe-{name}-seed{seed}", direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
            )
            rng = np.random.default_rng(10_000 + seed) if args.noisy else None
            src.optimize(lambda t, n=name, r=rng: tables[n].evaluate(suggest_hpobench(t), r), n_trials=source_trials)
            sources[name] = src
        for held in datasets:
            fold_sources = [sources[n] for n in HPOBENCH_DATASETS if n != held and n in sources]
            for sname in samplers:
                sampler = _make_sampler(sname, seed, fold_sources, fold_knowledge.get(held), metalearn_tpe)
                regrets, times, cpu = _run_study(sampler, tables[held], n_trials, noise_seed=seed * 100 + HPOBENCH_DATASETS.index(held) if args.noisy else None)
                rec = {"dataset": held, "seed": seed, "sampler": sname, "regret": regrets, "seconds": times, "cpu_seconds": cpu}
                records.append(rec)
                if args.records:
                    with open(args.records, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")
                print(
                    f"[{time.perf_counter() - start:7.1f}s] seed={seed} {held:18s} {sname:7s} "
                    + " ".join(f"@{c}={regrets[c - 1]:.4f}" for c in checkpoints),
                    flush=True,
                )
    return summarize(records, samplers, checkpoints, params={
        "datasets": ",".join(datasets),
        "samplers": ",".join(samplers),
        "n_trials": n_trials,
        "source_trials": source_trials,
        "seeds": n_seeds,
        "quick": bool(args.quick),
        "objective": "one random seed of the table (noisy)" if args.noisy else "mean accuracy over the table's 5 seeds",
        "optuna": optuna.__version__,
        "wall_seconds": round(time.perf_counter() - start, 1),
    })


def summarize(
    records: list[dict[str, Any]], samplers: list[str], checkpoints: list[int], params: dict[str, Any]
) -> BenchResult:
    """Aggregate per-study records into the benchmark table, ranks and a regret-curve plot."""
    from scipy.stats import rankdata

    by = {(r["dataset"], r["seed"], r["sampler"]): r for r in records}
    groups = sorted({(r["dataset"], r["seed"]) for r in records})
    groups = [g for g in groups if all((*g, s) in by for s in samplers)]
    ranks = {s: {c: [] for c in checkpoints} for s in samplers}
    for g in groups:
        for c in checkpoints:
            vals = [by[(*g, s)]["regret"][c - 1] for s in samplers]
            for s, rk in zip(samplers, rankdata(vals), strict=True):
                ranks[s][c].append(float(rk))
    rows = []
    for s in samplers:
        recs = [by[(*g, s)] for g in groups]
        row: dict[str, Any] = {"sampler": s}
        for c in checkpoints:
            row[f"regret@{c}"] = float(np.mean([r["regret"][c - 1] for r in recs]))
        for c in checkpoints:
            row[f"rank@{c}"] = float(np.mean(ranks[s][c]))
        row["mean_rank"] = float(np.mean([np.mean(ranks[s][c]) for c in checkpoints]))
        last = checkpoints[-1]
        window = slice(max(0, last - 10), last)
        row[f"ms/trial@{last}"] = 1000.0 * float(np.mean([np.mean(r["seconds"][window]) for r in recs]))
        if all("cpu_seconds" in r for r in recs):
            row[f"cpu_ms/trial@{last}"] = 1000.0 * float(np.mean([np.mean(r["cpu_seconds"][window]) for r in recs]))
        rows.append(row)
    summary: dict[str, Any] = {"studies_per_sampler": len(groups)}
    rmap = {r["sampler"]: r for r in rows}
    if "meta" in rmap:
        for c in checkpoints:
            best_peer = min((r[f"regret@{c}"] for r in rows if r["sampler"] != "meta"), default=float("nan"))
            summary[f"meta_regret@{c}/best_peer_regret@{c}"] = rmap["meta"][f"regret@{c}"] / best_peer if best_peer else float("nan")
        if "tpe" in rmap:
            summary[f"meta_regret@{checkpoints[0]} <= tpe_regret@{checkpoints[-1]}"] = bool(
                rmap["meta"][f"regret@{checkpoints[0]}"] <= rmap["tpe"][f"regret@{checkpoints[-1]}"]
            )
    figures = {"regret_curve.png": _plot(records, samplers, groups)}
    return BenchResult(
        name="sampler",
        rows=rows,
        key_columns=["sampler"],
        params=params,
        summary=summary,
        notes=[
            "percentile regret: share of the table's 30,000 configurations with strictly better mean "
            "accuracy than the incumbent (the trial with the best observed value)",
            "ms/trial (cpu_ms/trial): wall (process CPU) time per trial over the last 10 trials: sampler "
            "and in-memory storage, the objective is a table lookup; wall time inflates on a loaded machine",
        ],
        figures=figures,
    )


def _plot(records: list[dict[str, Any]], samplers: list[str], groups: list[tuple[str, int]]) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    keep = set(groups)
    for s in samplers:
        curves = np.array([r["regret"] for r in records if r["sampler"] == s and (r["dataset"], r["seed"]) in keep])
        if curves.size == 0:
            continue
        mean = curves.mean(axis=0)
        ax.plot(np.arange(1, mean.size + 1), np.maximum(mean, 1e-5), label=s)
    ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.set_ylabel("mean percentile regret")
    ax.set_title("HPOBench, leave one data set out")
    ax.legend()
    ax.grid(alpha=0.3, which="both")
    return fig


def summarize_records_file(*paths: str | Path) -> BenchResult:
    """Rebuild the result from ``--records`` files (parallel or interrupted runs)."""
    records = [
        json.loads(line) for path in paths for line in Path(path).read_text().splitlines() if line.strip()
    ]
    samplers = list(dict.fromkeys(r["sampler"] for r in records))
    n = min(len(r["regret"]) for r in records)
    checkpoints = [c for c in _CHECKPOINTS if c <= n] or [n]
    params = {
        "records": ",".join(map(str, paths)),
        "datasets": ",".join(sorted({r["dataset"] for r in records})),
        "seeds": len({r["seed"] for r in records}),
        "n_trials": n,
    }
    return summarize(records, samplers, checkpoints, params=params)
