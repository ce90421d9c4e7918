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


def test_collision_table_matches_its_json() -> None:
    after = _load("sampler_collision.json")["summary"]
    before = _load("sampler_collision_before.json")["summary"]
    labels = [k.split("/", 1)[1] for k in after if k.startswith("mean_best/")]
    assert len(labels) == 8
    for label in labels:
        a, b = after[f"mean_best/{label}"], before[f"mean_best/{label}"]
        ok = a["meta"] <= 1.1 * min(a["tpe"], a["meta-bare"])
        meta = f"{a['meta']:.5f}" if ok else f"**{a['meta']:.5f}**"
        row = f"| {label} | {b['meta']:.5f} | {b['meta-bare']:.5f} | {meta} | {a['meta-bare']:.5f} | {a['tpe']:.5f} |"
        assert row in _DOC, row
    n_ok = sum(
        after[f"mean_best/{lab}"]["meta"]
        <= 1.1 * min(after[f"mean_best/{lab}"]["tpe"], after[f"mean_best/{lab}"]["meta-bare"])
        for lab in labels
    )
    assert f"**Target missed** on {8 - n_ok} of 8" in _DOC
    assert f"on {8 - n_ok} of 8\ndefault MetaSampler is not within 1.1x" in _README


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
    before = _load("sampler_collision_heldout_before.json")["summary"]
    for label in ("four_mixed_scales", "depth_width_activation"):
        a, b = after[f"mean_best/{label}"], before[f"mean_best/{label}"]
        ok = a["meta"] <= 1.1 * min(a["tpe"], a["meta-bare"])
        meta = f"{a['meta']:.5f}" if ok else f"**{a['meta']:.5f}**"
        row = f"| {label} | {b['meta']:.5f} | {b['meta-bare']:.5f} | {meta} | {a['meta-bare']:.5f} | {a['tpe']:.5f} |"
        assert row in _DOC, row
