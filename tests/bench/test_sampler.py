"""The sampler benchmark's aggregation (fast) and a tiny end-to-end run (slow)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from autometa.bench.sampler import summarize, summarize_records_file


def _records() -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    for ds in ("a", "b"):
        for seed in (0, 1):
            for s, scale in (("meta", 0.1), ("random", 1.0)):
                curve = np.minimum.accumulate(scale * rng.random(12))
                out.append(
                    {
                        "dataset": ds,
                        "seed": seed,
                        "sampler": s,
                        "regret": curve.tolist(),
                        "seconds": [0.01] * 12,
                    }
                )
    return out


def test_summarize_ranks_and_regret(tmp_path) -> None:
    recs = _records()
    res = summarize(recs, ["meta", "random"], [10], params={})
    rows = {r["sampler"]: r for r in res.rows}
    assert rows["meta"]["regret@10"] < rows["random"]["regret@10"]
    assert rows["meta"]["rank@10"] + rows["random"]["rank@10"] == pytest.approx(3.0)
    assert rows["meta"]["ms/trial@10"] == pytest.approx(10.0)
    assert "regret_curve.png" in res.figures
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs))
    again = summarize_records_file(path)
    assert again.rows[0]["regret@10"] == pytest.approx(rows["meta"]["regret@10"])


@pytest.mark.slow
def test_quick_benchmark_runs(tmp_path) -> None:
    from autometa.bench.sampler import add_arguments, compute

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--quick",
            "--datasets",
            "car",
            "--samplers",
            "meta,random",
            "--n-trials",
            "10",
            "--source-trials",
            "10",
        ]
    )
    res = compute(args)
    assert {r["sampler"] for r in res.rows} == {"meta", "random"}
    assert all(0.0 <= r["regret@10"] <= 1.0 for r in res.rows)


def _parse(argv: list[str]) -> argparse.Namespace:
    from autometa.bench.sampler import add_arguments

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    add_arguments(parser)
    return parser.parse_args(argv)


def test_metalearn_tpe_needs_registry_root() -> None:
    from autometa.bench.sampler import compute

    with pytest.raises(SystemExit, match="--metalearn-tpe-root"):
        compute(_parse(["--samplers", "metalearn-tpe", "--datasets", "car"]))


def test_metalearn_tpe_checks_package_and_optuna_version(tmp_path) -> None:
    import optuna

    from autometa.bench.sampler import compute

    argv = [
        "--samplers",
        "metalearn-tpe",
        "--datasets",
        "car",
        "--metalearn-tpe-root",
        str(tmp_path),
    ]
    with pytest.raises(SystemExit, match="meta_learn_tpe/__init__.py not found"):
        compute(_parse(argv))
    if int(optuna.__version__.split(".")[0]) < 5:
        pytest.skip("the version check only fires under optuna>=5")
    (tmp_path / "samplers" / "meta_learn_tpe").mkdir(parents=True)
    (tmp_path / "samplers" / "meta_learn_tpe" / "__init__.py").write_text("")
    with pytest.raises(SystemExit, match="optuna<5"):
        compute(_parse(argv))


def test_per_problem_summary_counts_wins() -> None:
    from autometa.bench.sampler import per_problem_summary

    recs = []
    for prob, meta_r in (("p1", 0.01), ("p2", 0.5)):
        for s, r in (("meta", meta_r), ("random", 0.1), ("tpe", 0.2)):
            recs.append({"dataset": prob, "seed": 0, "sampler": s, "regret": [r] * 10})
    out = per_problem_summary(recs, ["meta", "random", "tpe"], [10])
    assert out["regret@10/p1"] == {"meta": 0.01, "random": 0.1, "tpe": 0.2}
    assert out["meta<=(random&tpe)@10"] == "1/2 problems"


def _no_source(samplers: str, *extra: str):
    """``bench sampler --no-source`` on one synthetic family, one seed, 12 trials."""
    from autometa.bench.sampler import compute

    argv = ["--no-source", "--datasets", "none", "--families", "plateaus", "--seeds", "1"]
    return compute(_parse([*argv, "--n-trials", "12", "--samplers", samplers, *extra]))


def test_no_source_mode_runs_on_a_family() -> None:
    res = _no_source("meta,random")
    assert res.params["mode"] == "no-source"
    assert {r["sampler"] for r in res.rows} == {"meta", "random"}
    assert "regret@10/synthetic/plateaus" in res.summary


def test_no_source_mode_reads_a_saved_surrogate(tmp_path) -> None:
    pytest.importorskip("torch")
    from autometa.optuna._icl import train_icl_surrogate

    path = train_icl_surrogate(steps=5, batch=4, width=16, layers=1, seed=0).save(tmp_path / "s.pt")
    res = _no_source("meta-icl", "--icl-surrogate", str(path))
    assert res.summary["icl/steps"] == 5  # the saved one, not a freshly trained one (default 1500)


def test_overhead_mode_reports_ratios() -> None:
    from autometa.bench.sampler import compute

    res = compute(_parse(["--overhead", "--sizes", "12,24", "--samplers", "meta,tpe"]))
    assert [r["sampler"] for r in res.rows] == ["meta", "tpe"]
    assert all(r["ms/trial@24"] > 0 and r["cpu_ms/trial@24"] > 0 for r in res.rows)
    assert {"meta/tpe@12", "meta/tpe@24", "meta growth 12->24 (x2 trials)"} <= set(res.summary)


def test_collision_mode_runs_and_checks_the_targets() -> None:
    from autometa.bench.sampler import compute

    args = _parse(
        ["--collision", "--quick", "--samplers", "meta,meta-bare,tpe", "--objectives", "lr_width"]
    )
    res = compute(args)
    assert {r["sampler"] for r in res.rows} == {"meta", "meta-bare", "tpe"}
    assert all(r["objective"] == "lr_width" and r["mean_best"] >= 0.0 for r in res.rows)
    assert res.summary["meta<=1.1*min(tpe,meta-bare)"].endswith("/1 objectives")
    with pytest.raises(SystemExit, match="unknown collision objective"):
        compute(_parse(["--collision", "--objectives", "nope"]))
