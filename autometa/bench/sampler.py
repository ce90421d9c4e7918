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
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from autometa.bench._common import BenchResult

DESCRIPTION = __doc__
_CHECKPOINTS = (10, 25, 50)
_SAMPLERS = ("meta", "random", "tpe", "gp", "cmaes")
_NO_SOURCE_SAMPLERS = ("meta", "meta-bare", "random", "tpe")
_OPTIONAL_SAMPLERS = ("metalearn-tpe", "meta-bare", "meta-icl")
_ALL_SAMPLERS = _SAMPLERS + _OPTIONAL_SAMPLERS
_NEEDS_SOURCES = ("meta", "cmaes", "metalearn-tpe")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autometa.optuna._pool import HPOBENCH_DATASETS

    parser.add_argument(
        "--datasets",
        default=",".join(HPOBENCH_DATASETS),
        help="comma-separated held-out HPOBench data sets (default: all 8)",
    )
    parser.add_argument(
        "--samplers", default=",".join(_SAMPLERS), help=f"subset of {','.join(_ALL_SAMPLERS)}"
    )
    parser.add_argument("--n-trials", type=int, default=50, help="trials per study (default 50)")
    parser.add_argument(
        "--source-trials", type=int, default=50, help="trials per TPE source study (default 50)"
    )
    parser.add_argument(
        "--records", metavar="PATH", help="append one JSON line per finished study to PATH"
    )
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
        "--overhead",
        action="store_true",
        help="overhead mode: per-trial sampler time (ms) with 50, 200 and 1000 trials in the history, "
        "MetaSampler vs TPESampler and GPSampler in the same run (--sizes to change the sizes)",
    )
    parser.add_argument(
        "--icl-steps",
        type=int,
        default=1500,
        help="no-source mode, sampler meta-icl: meta-training steps of the in-context surrogate (default 1500)",
    )
    parser.add_argument(
        "--icl-surrogate",
        metavar="PATH",
        default=None,
        help="no-source mode, sampler meta-icl: a trained surrogate file (ICLSurrogate.save) instead of training one",
    )
    parser.add_argument(
        "--sizes", default="50,200,1000", help="overhead mode: history sizes (default 50,200,1000)"
    )
    parser.add_argument(
        "--no-source",
        action="store_true",
        help="no-source mode: no source studies; MetaSampler uses only its meta-knowledge (re-trained "
        "without the held-out HPOBench table; the shipped one on synthetic families). Samplers default "
        "to meta,meta-bare,random,tpe; 25 trials",
    )
    parser.add_argument(
        "--families",
        default=None,
        help="no-source mode: comma-separated synthetic families (default: all of "
        "plateaus,log_optima,categorical,conditional,noisy; 'none' for none)",
    )
    parser.add_argument(
        "--collision",
        action="store_true",
        help="name-collision mode: objectives that reuse the archive's parameter names (width, depth, alpha, "
        "batch_size, learning_rate_init) with other optima and ranges, with and without a MedianPruner; "
        "samplers default to meta,meta-bare,tpe,gp; 40 trials, 20 seeds; mean best value per objective",
    )
    parser.add_argument(
        "--objectives",
        default=None,
        help="collision mode: comma-separated objectives (default: all development ones; pruned variants as "
        "NAME+median_pruner; the held-out ones: four_mixed_scales,depth_width_activation)",
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

    return optunahub.load_local_module(
        package="samplers/meta_learn_tpe", registry_root=str(root)
    ).MetaLearnTPESampler


def _make_sampler(
    name: str,
    seed: int,
    sources: list[Any],
    knowledge: Any,
    metalearn_tpe: Any = None,
    surrogate: Any = None,
) -> Any:
    import optuna

    from autometa.optuna import MetaSampler

    if name == "metalearn-tpe":
        return metalearn_tpe(source_studies=sources, seed=seed)
    if name == "meta":
        return MetaSampler(source_studies=sources, knowledge=knowledge, seed=seed)
    if name == "meta-icl":
        return MetaSampler(
            source_studies=sources, knowledge=knowledge, surrogate=surrogate, seed=seed
        )
    if name == "meta-bare":
        return MetaSampler(source_studies=sources, knowledge=None, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "cmaes":
        source_trials = [
            t for s in sources for t in s.get_trials(deepcopy=False) if t.state.is_finished()
        ]
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
        study.optimize(
            lambda t: table.evaluate(suggest_hpobench(t), rng),
            n_trials=n_trials,
            callbacks=[callback],
        )
    return regrets, times, cpu


def _keep_study(
    rec: dict[str, Any],
    records: list[dict[str, Any]],
    path: str | None,
    elapsed: float,
    checkpoints: list[int],
    widths: tuple[int, int],
) -> None:
    """Add a finished study's record (and append it to the ``--records`` file); print its regrets."""
    records.append(rec)
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
    print(
        f"[{elapsed:7.1f}s] seed={rec['seed']} {rec['dataset']:{widths[0]}s} {rec['sampler']:{widths[1]}s} "
        + " ".join(f"@{c}={rec['regret'][c - 1]:.4f}" for c in checkpoints),
        flush=True,
    )


def compute(args: argparse.Namespace) -> BenchResult:
    import optuna

    from autometa.optuna._pool import HPOBENCH_DATASETS, HPOBenchTable, suggest_hpobench
    from autometa.optuna._train import learn_designs, train_meta_knowledge

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if getattr(args, "from_records", None):
        return summarize_records_file(*args.from_records.split(","))
    if getattr(args, "no_source", False):
        return compute_no_source(args)
    if getattr(args, "overhead", False):
        return compute_overhead(args)
    if getattr(args, "collision", False):
        return compute_collision(args)
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
        designs = learn_designs(
            3 if args.quick else 8, 10, 16 if args.quick else 96, 64 if args.quick else 256, seed=1
        )
    for held in datasets if "meta" in samplers else []:
        others = [n for n in HPOBENCH_DATASETS if n != held]
        fold_knowledge[held], _ = train_meta_knowledge(
            others, seed=0, quick=args.quick, tables=tables, designs=designs
        )

    records: list[dict[str, Any]] = []
    for seed in range(n_seeds):
        sources: dict[str, Any] = {}
        need_sources = any(s in samplers for s in _NEEDS_SOURCES)
        for name in HPOBENCH_DATASETS if need_sources else []:
            src = optuna.create_study(
                study_name=f"tpe-{name}-seed{seed}",
                direction="maximize",
                sampler=optuna.samplers.TPESampler(seed=seed),
            )
            rng = np.random.default_rng(10_000 + seed) if args.noisy else None
            src.optimize(
                lambda t, n=name, r=rng: tables[n].evaluate(suggest_hpobench(t), r),
                n_trials=source_trials,
            )
            sources[name] = src
        for held in datasets:
            fold_sources = [sources[n] for n in HPOBENCH_DATASETS if n != held and n in sources]
            for sname in samplers:
                sampler = _make_sampler(
                    sname, seed, fold_sources, fold_knowledge.get(held), metalearn_tpe
                )
                regrets, times, cpu = _run_study(
                    sampler,
                    tables[held],
                    n_trials,
                    noise_seed=seed * 100 + HPOBENCH_DATASETS.index(held) if args.noisy else None,
                )
                rec = {
                    "dataset": held,
                    "seed": seed,
                    "sampler": sname,
                    "regret": regrets,
                    "seconds": times,
                    "cpu_seconds": cpu,
                }
                _keep_study(
                    rec, records, args.records, time.perf_counter() - start, checkpoints, (18, 7)
                )
    return summarize(
        records,
        samplers,
        checkpoints,
        params={
            "datasets": ",".join(datasets),
            "samplers": ",".join(samplers),
            "n_trials": n_trials,
            "source_trials": source_trials,
            "seeds": n_seeds,
            "quick": bool(args.quick),
            "objective": "one random seed of the table (noisy)"
            if args.noisy
            else "mean accuracy over the table's 5 seeds",
            "optuna": optuna.__version__,
            "wall_seconds": round(time.perf_counter() - start, 1),
        },
    )


def summarize(
    records: list[dict[str, Any]],
    samplers: list[str],
    checkpoints: list[int],
    params: dict[str, Any],
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
        row[f"ms/trial@{last}"] = 1000.0 * float(
            np.mean([np.mean(r["seconds"][window]) for r in recs])
        )
        if all("cpu_seconds" in r for r in recs):
            row[f"cpu_ms/trial@{last}"] = 1000.0 * float(
                np.mean([np.mean(r["cpu_seconds"][window]) for r in recs])
            )
        rows.append(row)
    summary: dict[str, Any] = {"studies_per_sampler": len(groups)}
    rmap = {r["sampler"]: r for r in rows}
    if "meta" in rmap:
        for c in checkpoints:
            best_peer = min(
                (r[f"regret@{c}"] for r in rows if r["sampler"] != "meta"), default=float("nan")
            )
            summary[f"meta_regret@{c}/best_peer_regret@{c}"] = (
                rmap["meta"][f"regret@{c}"] / best_peer if best_peer else float("nan")
            )
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
        curves = np.array(
            [
                r["regret"]
                for r in records
                if r["sampler"] == s and (r["dataset"], r["seed"]) in keep
            ]
        )
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
        json.loads(line)
        for path in paths
        for line in Path(path).read_text().splitlines()
        if line.strip()
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


def _run_synthetic(
    sampler: Any, instance: Any, n_trials: int, noise_seed: int
) -> tuple[list[float], list[float]]:
    """Run one minimization study on a synthetic instance; incumbent regret and wall time per trial."""
    import optuna

    study = optuna.create_study(sampler=sampler)
    regrets: list[float] = []
    times: list[float] = []
    last = [time.perf_counter()]

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        times.append(time.perf_counter() - last[0])
        regrets.append(instance.percentile_regret(study.best_trial.params))
        last[0] = time.perf_counter()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(
            instance.objective(np.random.default_rng(noise_seed)),
            n_trials=n_trials,
            callbacks=[callback],
        )
    return regrets, times


def compute_no_source(args: argparse.Namespace) -> BenchResult:
    """No source studies: MetaSampler on its meta-knowledge alone, against random search and TPE.

    Held-out problems: each HPOBench data set of ``--datasets`` (MetaSampler's knowledge re-trained
    on the 7 other tables plus synthetic functions) and random instances of each synthetic family
    of ``--families`` (the shipped knowledge, which never saw any of these families). One instance
    per family and seed; the incumbent is the best observed (noisy) trial, its regret is measured
    noise-free.
    """
    from autometa.optuna import MetaKnowledge
    from autometa.optuna._families import FAMILIES, make_instance
    from autometa.optuna._pool import HPOBENCH_DATASETS, HPOBenchTable
    from autometa.optuna._train import learn_designs, train_meta_knowledge

    samplers = [s for s in args.samplers.split(",") if s]
    if args.samplers == ",".join(_SAMPLERS):
        samplers = list(_NO_SOURCE_SAMPLERS)
    for s in samplers:
        if s not in _ALL_SAMPLERS or s in ("cmaes", "metalearn-tpe"):
            raise SystemExit(
                f"sampler {s!r} is not available in --no-source mode; choose from meta,meta-bare,meta-icl,random,tpe,gp"
            )
    datasets = [d for d in args.datasets.split(",") if d and d != "none"]
    families = (
        list(FAMILIES)
        if args.families is None
        else [f for f in args.families.split(",") if f and f != "none"]
    )
    n_trials = args.n_trials if args.n_trials != 50 else 25
    n_seeds = args.seeds if args.seeds is not None else 5
    if args.quick:
        n_trials = min(n_trials, 12)
        n_seeds = 1 if args.seeds is None else n_seeds
        if args.datasets == ",".join(HPOBENCH_DATASETS):
            datasets = ["car"]
    checkpoints = [c for c in (10, 25, 50) if c <= n_trials] or [n_trials]
    start = time.perf_counter()
    fold_knowledge: dict[str, Any] = {}
    if datasets and "meta" in samplers:
        tables = {name: HPOBenchTable(name) for name in HPOBENCH_DATASETS}
        designs = learn_designs(
            3 if args.quick else 8, 10, 16 if args.quick else 96, 64 if args.quick else 256, seed=1
        )
        for held in datasets:
            others = [n for n in HPOBENCH_DATASETS if n != held]
            fold_knowledge[held], _ = train_meta_knowledge(
                others, seed=0, quick=args.quick, tables=tables, designs=designs
            )
    shipped = MetaKnowledge.default() if families else None
    surrogate = None
    if "meta-icl" in samplers:
        from autometa.optuna._icl import train_icl_surrogate

        if args.icl_surrogate is not None:
            from autometa.optuna._icl import load_icl_surrogate

            surrogate = load_icl_surrogate(args.icl_surrogate)
        else:
            steps = min(args.icl_steps, 50) if args.quick else args.icl_steps
            surrogate = train_icl_surrogate(steps=steps, seed=0)
        print(
            f"[{time.perf_counter() - start:7.1f}s] in-context surrogate: {surrogate.metrics}",
            flush=True,
        )
    records: list[dict[str, Any]] = []
    for seed in range(n_seeds):
        problems: list[tuple[str, Any]] = [(f"hpobench/{d}", d) for d in datasets]
        problems += [(f"synthetic/{f}", f) for f in families]
        for label, key in problems:
            for sname in samplers:
                if label.startswith("hpobench/"):
                    sampler = _make_sampler(
                        sname, seed, [], fold_knowledge.get(key), surrogate=surrogate
                    )
                    table = HPOBenchTable(key)
                    regrets, times, _ = _run_study(sampler, table, n_trials, noise_seed=None)
                else:
                    sampler = _make_sampler(sname, seed, [], shipped, surrogate=surrogate)
                    instance = make_instance(key, seed)
                    regrets, times = _run_synthetic(
                        sampler, instance, n_trials, noise_seed=1000 + seed
                    )
                rec = {
                    "dataset": label,
                    "seed": seed,
                    "sampler": sname,
                    "regret": regrets,
                    "seconds": times,
                }
                _keep_study(
                    rec, records, args.records, time.perf_counter() - start, checkpoints, (22, 9)
                )
    result = summarize(
        records,
        samplers,
        checkpoints,
        params={
            "mode": "no-source",
            "datasets": ",".join(datasets),
            "families": ",".join(families),
            "samplers": ",".join(samplers),
            "n_trials": n_trials,
            "seeds": n_seeds,
            "quick": bool(args.quick),
            "wall_seconds": round(time.perf_counter() - start, 1),
        },
    )
    result.summary.update(per_problem_summary(records, samplers, checkpoints))
    if surrogate is not None:
        result.summary.update({f"icl/{k}": v for k, v in surrogate.metrics.items()})
    return result


def per_problem_summary(
    records: list[dict[str, Any]], samplers: list[str], checkpoints: list[int]
) -> dict[str, Any]:
    """Mean regret per held-out problem and sampler, and whether MetaSampler is <= random and TPE."""
    out: dict[str, Any] = {}
    problems = sorted({r["dataset"] for r in records})
    for c in checkpoints:
        for prob in problems:
            means = {
                s: float(
                    np.mean(
                        [
                            r["regret"][c - 1]
                            for r in records
                            if r["dataset"] == prob and r["sampler"] == s
                        ]
                    )
                )
                for s in samplers
                if any(r["dataset"] == prob and r["sampler"] == s for r in records)
            }
            out[f"regret@{c}/{prob}"] = {s: round(v, 4) for s, v in means.items()}
        if "meta" in samplers:
            peers = [p for p in ("random", "tpe") if p in samplers]
            wins = 0
            for prob in problems:
                m = out[f"regret@{c}/{prob}"]
                wins += all(m["meta"] <= m[p] + 1e-12 for p in peers)
            out[f"meta<=({'&'.join(peers)})@{c}"] = f"{wins}/{len(problems)} problems"
    return out


_COLLISION_SAMPLERS = ("meta", "meta-bare", "tpe", "gp")
_COLLISION_PRUNED = ("lr_width", "lri_width_depth", "mlp5")  # also run under a MedianPruner


def compute_collision(args: argparse.Namespace) -> BenchResult:
    """Name collisions: objectives reusing the archive's names with other optima, no source studies.

    Every objective of :data:`autometa.optuna._collision.COLLISIONS` (minimization, optimum 0)
    runs 40 trials (``--n-trials`` to change) per seed and sampler, and three of them again
    under ``MedianPruner(n_startup_trials=5, n_warmup_steps=2)`` with a learning curve. Reported:
    mean and median best value over seeds. These objectives are never used to tune the sampler.
    """
    import optuna

    from autometa.optuna._collision import COLLISIONS, HELD_OUT_COLLISIONS, collision_objective

    samplers = [s for s in args.samplers.split(",") if s]
    if args.samplers == ",".join(_SAMPLERS):
        samplers = list(_COLLISION_SAMPLERS)
    for s in samplers:
        if s not in ("meta", "meta-bare", "tpe", "gp", "random"):
            raise SystemExit(
                f"sampler {s!r} is not available in --collision mode; choose from meta,meta-bare,tpe,gp,random"
            )
    n_trials = args.n_trials if args.n_trials != 50 else 40
    n_seeds = args.seeds if args.seeds is not None else 20
    problems = [(name, False) for name in COLLISIONS] + [(name, True) for name in _COLLISION_PRUNED]
    if getattr(args, "objectives", None):
        wanted = [o for o in args.objectives.split(",") if o]
        known = {f"{n}+median_pruner" if p else n: (n, p) for n, p in problems}
        known.update({n: (n, False) for n in HELD_OUT_COLLISIONS})
        for o in wanted:
            if o not in known:
                raise SystemExit(
                    f"unknown collision objective {o!r}; choose from {','.join(known)}"
                )
        problems = [known[o] for o in wanted]
    if args.quick:
        n_trials, n_seeds, problems = (
            min(n_trials, 12),
            1 if args.seeds is None else n_seeds,
            problems[:2],
        )
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    best: dict[tuple[str, str], list[float]] = {}
    for name, pruned in problems:
        label = f"{name}+median_pruner" if pruned else name
        objective = collision_objective(name).objective(pruned)
        for sname in samplers:
            values = []
            for seed in range(n_seeds):
                sampler = _make_sampler(sname, seed, [], "default")
                pruner = (
                    optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)
                    if pruned
                    else optuna.pruners.NopPruner()
                )
                study = optuna.create_study(sampler=sampler, pruner=pruner)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    study.optimize(objective, n_trials=n_trials)
                values.append(float(study.best_value))
            best[(label, sname)] = values
            rows.append(
                {
                    "objective": label,
                    "sampler": sname,
                    "mean_best": float(np.mean(values)),
                    "median_best": float(np.median(values)),
                }
            )
            print(
                f"[{time.perf_counter() - start:7.1f}s] {label:32s} {sname:9s} mean best {np.mean(values):.5f}",
                flush=True,
            )
    summary: dict[str, Any] = {}
    labels = list(dict.fromkeys(r["objective"] for r in rows))
    mean = {(r["objective"], r["sampler"]): r["mean_best"] for r in rows}
    if {"meta", "meta-bare", "tpe"} <= set(samplers) and labels:
        ok = [
            lab
            for lab in labels
            if mean[(lab, "meta")] <= 1.1 * min(mean[(lab, "tpe")], mean[(lab, "meta-bare")])
        ]
        summary["meta<=1.1*min(tpe,meta-bare)"] = f"{len(ok)}/{len(labels)} objectives"
        ok = [lab for lab in labels if mean[(lab, "meta-bare")] <= 1.1 * mean[(lab, "tpe")]]
        summary["meta-bare<=1.1*tpe"] = f"{len(ok)}/{len(labels)} objectives"
    for lab in labels:
        summary[f"mean_best/{lab}"] = {s: round(mean[(lab, s)], 5) for s in samplers}
    return BenchResult(
        name="sampler-collision",
        rows=rows,
        key_columns=["objective", "sampler"],
        params={
            "mode": "collision",
            "samplers": ",".join(samplers),
            "n_trials": n_trials,
            "seeds": n_seeds,
            "quick": bool(args.quick),
            "optuna": optuna.__version__,
            "wall_seconds": round(time.perf_counter() - start, 1),
        },
        summary=summary,
        notes=[
            "objectives: autometa/optuna/_collision.py (minimization, optimum 0); they reuse the shipped "
            "archive's parameter names with other optima and ranges and are never used to tune the sampler",
            "meta: MetaSampler(seed=s) with the shipped knowledge; meta-bare: MetaSampler(knowledge=None)",
        ],
    )


_OVERHEAD_SAMPLERS = ("meta", "tpe", "gp")
_OVERHEAD_TIMED = 10


def _overhead_objective(trial: Any) -> float:

    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
    k = trial.suggest_int("k", 1, 64, log=True)
    d = trial.suggest_int("d", 1, 4)
    c = trial.suggest_categorical("c", ["a", "b", "c"])
    return (x - 1.0) ** 2 + (math.log10(lr) + 3.0) ** 2 + 0.1 * math.log2(k) + 0.2 * d + (c != "b")


def time_per_trial(
    sampler_name: str, n_history: int, seed: int = 0, n_timed: int = _OVERHEAD_TIMED
) -> tuple[float, float]:
    """Median wall and process-CPU milliseconds of one ask-evaluate-tell cycle with
    ``n_history`` trials done.

    The history is ``n_history`` random configurations added with ``study.add_trials`` (so the
    measurement does not depend on how long each sampler takes to get there); two untimed trials
    warm up caches, then ``n_timed`` trials are timed one by one.
    """
    import optuna

    warm = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    warm.optimize(_overhead_objective, n_trials=n_history)
    sampler = _make_sampler(sampler_name, seed, [], None) if sampler_name != "meta" else None
    if sampler is None:
        from autometa.optuna import MetaSampler

        sampler = MetaSampler(seed=seed)
    study = optuna.create_study(sampler=sampler)
    study.add_trials(warm.get_trials(deepcopy=False))
    times, cpu = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(2 + n_timed):
            t0, c0 = time.perf_counter(), time.process_time()
            trial = study.ask()
            study.tell(trial, _overhead_objective(trial))
            if i >= 2:
                times.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
    return 1000.0 * float(np.median(times)), 1000.0 * float(np.median(cpu))


def compute_overhead(args: argparse.Namespace) -> BenchResult:
    """Per-trial sampler overhead at several history sizes, MetaSampler vs TPE and GP, one run."""
    import optuna

    sizes = [int(v) for v in args.sizes.split(",") if v]
    samplers = [s for s in args.samplers.split(",") if s]
    if args.samplers == ",".join(_SAMPLERS):
        samplers = list(_OVERHEAD_SAMPLERS)
    if args.quick:
        sizes = [min(s, 60) for s in sizes[:2]]
    start = time.perf_counter()
    rows = []
    for sname in samplers:
        row: dict[str, Any] = {"sampler": sname}
        for n in sizes:
            # GPSampler takes seconds per trial at 1,000 trials: fewer timed trials for it.
            wall, cpu = time_per_trial(sname, n, n_timed=3 if sname == "gp" else _OVERHEAD_TIMED)
            row[f"ms/trial@{n}"], row[f"cpu_ms/trial@{n}"] = wall, cpu
            print(
                f"[{time.perf_counter() - start:7.1f}s] {sname:6s} n={n:5d} {wall:.2f} ms/trial ({cpu:.2f} CPU)",
                flush=True,
            )
        rows.append(row)
    summary: dict[str, Any] = {}
    rmap = {r["sampler"]: r for r in rows}
    for peer in ("tpe", "gp"):
        if "meta" in rmap and peer in rmap:
            for n in sizes:
                summary[f"meta/{peer}@{n}"] = round(
                    rmap["meta"][f"ms/trial@{n}"] / rmap[peer][f"ms/trial@{n}"], 3
                )
                summary[f"meta/{peer} CPU@{n}"] = round(
                    rmap["meta"][f"cpu_ms/trial@{n}"] / rmap[peer][f"cpu_ms/trial@{n}"], 3
                )
    if "meta" in rmap and len(sizes) >= 2:
        a, b = sizes[-2], sizes[-1]
        growth = rmap["meta"][f"ms/trial@{b}"] / rmap["meta"][f"ms/trial@{a}"]
        summary[f"meta growth {a}->{b} (x{b / a:g} trials)"] = round(growth, 2)
    return BenchResult(
        name="sampler-overhead",
        rows=rows,
        key_columns=["sampler"],
        params={
            "sizes": ",".join(map(str, sizes)),
            "samplers": ",".join(samplers),
            "timed_trials": _OVERHEAD_TIMED,
            "space": "5 parameters: float, log float, log int, int, categorical",
            "optuna": optuna.__version__,
            "wall_seconds": round(time.perf_counter() - start, 1),
        },
        summary=summary,
        notes=[
            "ms/trial@n (cpu_ms/trial@n): median wall (process CPU) time of ask + objective + tell over 10 trials (GPSampler: 3) after n "
            "random trials (in-memory storage; the objective is arithmetic), so it is the sampler's cost "
            "plus Optuna's; wall time inflates on a loaded machine, compare ratios within one run",
        ],
    )
