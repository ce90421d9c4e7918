"""docs/sampler.md and README.md quote the sampler benchmarks' committed results exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_ROOT = Path(__file__).resolve().parents[2]
_RESULTS = _ROOT / "docs" / "results"
_DOC = (_ROOT / "docs" / "sampler.md").read_text()
_README = (_ROOT / "README.md").read_text()


def _load(name: str) -> dict:
    path = _RESULTS / name
    if not path.is_file():
        pytest.skip(f"{path} not committed")
    return json.loads(path.read_text())


def _ok(a: dict) -> bool:
    return a["meta"] <= 1.1 * min(a["tpe"], a["meta-bare"])


def _bold(a: dict) -> str:
    return f"{a['meta']:.5f}" if _ok(a) else f"**{a['meta']:.5f}**"


def test_collision_table_matches_its_json() -> None:
    after = _load("sampler_collision.json")["summary"]
    round1 = _load("sampler_collision_round1.json")["summary"]
    before = _load("sampler_collision_before.json")["summary"]
    labels = [k.split("/", 1)[1] for k in after if k.startswith("mean_best/")]
    assert len(labels) == 8
    for label in labels:
        a, r, b = (d[f"mean_best/{label}"] for d in (after, round1, before))
        row = (
            f"| {label} | {b['meta']:.5f} | {b['meta-bare']:.5f} | {_bold(r)} | {_bold(a)} "
            f"| {a['meta-bare']:.5f} | {a['tpe']:.5f} |"
        )
        assert row in _DOC, row
    n_ok = sum(_ok(after[f"mean_best/{lab}"]) for lab in labels)
    assert f"within 1.1x of the better of TPE and `knowledge=None` on {n_ok} of 8" in _DOC
    # the README states the 1.1x rule in words: its paragraph is pinned to the JSON's numbers
    readme = " ".join(_README.split())
    assert f"within a tenth of the better of TPE and `knowledge=None` on {n_ok} of 8" in readme
    held = _load("sampler_collision_heldout.json")["summary"]
    n_held = sum(_ok(v) for k, v in held.items() if k.startswith("mean_best/"))
    assert f"within a tenth of `knowledge=None` on {n_held}" in readme
    assert all(a["meta"] < a["tpe"] for k, a in after.items() if k.startswith("mean_best/"))
    assert "mean best value is below TPE's on all 8" in readme


def test_with_source_table_matches_its_json() -> None:
    rows = {r["sampler"]: r for r in _load("sampler.json")["rows"]}
    m = rows["meta"]
    cells = [f"{m[f'regret@{c}']:.4f}" for c in (10, 25, 50)]
    assert "| **MetaSampler** | " + " | ".join(f"**{v}**" for v in cells) in _DOC
    assert "| **MetaSampler** | " + " | ".join(f"**{v}**" for v in cells) in _README
    best_peer = min(r["regret@10"] for s, r in rows.items() if s != "meta")
    assert m["regret@10"] <= 0.5 * best_peer  # the target: the lead is kept


def test_no_source_and_overhead_tables_match_their_json() -> None:
    rows = {r["sampler"]: r for r in _load("sampler_nosource.json")["rows"]}
    for label, key in (("MetaSampler (knowledge, no sources)", "meta"), ("TPESampler", "tpe")):
        r = rows[key]
        assert (
            f"| {label} | {r['regret@10']:.4f} | {r['regret@25']:.4f} | {r['mean_rank']:.2f} |"
            in _DOC
        )
    summary = {
        **_load("sampler_nosource.json")["summary"],
        **_load("sampler_nosource_hpo.json")["summary"],
    }
    for prob in ("hpobench/car", "synthetic/noisy", "synthetic/conditional"):
        t10, t25 = summary[f"regret@10/{prob}"], summary[f"regret@25/{prob}"]
        assert f"| {prob} | {t10['meta']:.4f} / {t25['meta']:.4f} |" in _DOC
    over = {r["sampler"]: r for r in _load("sampler_overhead.json")["rows"]}
    cpu50 = over["meta"]["cpu_ms/trial@50"]
    assert f"| MetaSampler | **{cpu50:.1f}** |" in _DOC and cpu50 <= 10.0


def test_held_out_collision_table_matches_its_json() -> None:
    after = _load("sampler_collision_heldout.json")["summary"]
    round1 = _load("sampler_collision_heldout_round1.json")["summary"]
    before = _load("sampler_collision_heldout_before.json")["summary"]
    for label in ("four_mixed_scales", "depth_width_activation"):
        a, r, b = (d[f"mean_best/{label}"] for d in (after, round1, before))
        row = (
            f"| {label} | {b['meta']:.5f} | {b['meta-bare']:.5f} | {_bold(r)} | {_bold(a)} "
            f"| {a['meta-bare']:.5f} | {a['tpe']:.5f} |"
        )
        assert row in _DOC, row
    for label in ("alpha_lr_linear", "momentum_batch_depth"):  # written before round 2
        a = after[f"mean_best/{label}"]
        row = f"| {label} | – | – | – | {_bold(a)} | {a['meta-bare']:.5f} | {a['tpe']:.5f} |"
        assert row in _DOC, row


def test_second_round_quotes_match_their_json() -> None:
    # docs/sampler.md compares the second round of issue 26 with the first one (the *_round1 files).
    rows = {r["sampler"]: r for r in _load("sampler_nosource.json")["rows"]}
    for label, key in (
        ("MetaSampler(knowledge=None)", "meta-bare"),
        ("RandomSampler", "random"),
    ):
        r = rows[key]
        row = f"| {label} | {r['regret@10']:.4f} | {r['regret@25']:.4f} | {r['mean_rank']:.2f} |"
        assert row in _DOC, row
    summary = {
        **_load("sampler_nosource.json")["summary"],
        **_load("sampler_nosource_hpo.json")["summary"],
    }
    problems = [k.split("/", 1)[1] for k in summary if k.startswith("regret@10/")]
    assert len(problems) == 8
    for prob in problems:
        t10, t25 = summary[f"regret@10/{prob}"], summary[f"regret@25/{prob}"]
        cells = " | ".join(
            f"{t10[s]:.4f} / {t25[s]:.4f}" for s in ("meta", "meta-bare", "tpe", "random")
        )
        assert f"| {prob} | {cells} |" in _DOC, prob
        assert t10["meta"] <= min(t10["random"], t10["tpe"]), prob  # the 10-trial target
    r1 = {r["sampler"]: r for r in _load("sampler_nosource_round1.json")["rows"]}
    assert (
        f"the first round had {r1['meta']['regret@10']:.4f} against\n  random's "
        f"{r1['random']['regret@10']:.4f}" in _DOC
    )
    hpo1 = _load("sampler_nosource_hpo_round1.json")["summary"]
    old = " /\n  ".join(
        f"{hpo1[f'regret@10/hpobench/{d}']['meta']:.4f}" for d in ("car", "credit_g")
    )
    assert f"against {old} / {hpo1['regret@10/hpobench/phoneme']['meta']:.4f}" in _DOC
    w1 = {r["sampler"]: r for r in _load("sampler_round1.json")["rows"]}["meta"]
    w = {r["sampler"]: r for r in _load("sampler.json")["rows"]}["meta"]
    quote = " / ".join(f"{w1[f'regret@{c}']:.4f}" for c in (10, 25, 50))
    assert f"after its first round {quote}" in _DOC.replace("\n  ", " ")
    assert "now " + " / ".join(f"{w[f'regret@{c}']:.4f}" for c in (10, 25, 50)) in _DOC.replace(
        "\n  ", " "
    )
    o1 = {r["sampler"]: r for r in _load("sampler_overhead_round1.json")["rows"]}["meta"]
    assert f"round 1: {o1['cpu_ms/trial@50']:.1f})" in _DOC
