"""Pinned claims: every number in the README's result tables (and the docs tables marked the same
way) is in the committed results JSON the table names.

A results table is preceded by an HTML comment naming its JSON, written by the benchmark
command's ``--json`` (``docs/results/``)::

    <!-- results: docs/results/classifier.json -->
    | n_train | AutoMetaClassifier | ... |

(A table drawn from several results files names them all, separated by spaces; a number may
come from any of them.)

For every body row whose first cell is a training size, each decimal number of the other cells
must equal, at the number of decimals written, a number of the JSON rows of that size (or of the
JSON's ``summary`` entries for that size); for other rows, any number of the JSON. A number typed
into the prose table that the benchmark did not produce fails the test.

The same marker directly above a *paragraph* (the lines up to the next blank line) pins its
prose: each decimal number in it must be a number of the JSON at the decimals written (a number
followed by ``%`` is read as a percentage of a JSON number, ``77.7%`` = ``0.777``).

A table of decimal numbers in a pinned document that no results file backs says so with
``<!-- historical: why it cannot be re-computed -->`` directly above it (for example, measured on
tables since dropped, with no cells committed); ``test_every_numeric_table_is_pinned_or_historical``
fails on a table with neither marker.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!--\s*results:\s*(\S+(?:\s+[^\s>]+)*?)\s*-->")
DECIMAL = re.compile(r"(?<![\w.])-?\d+\.\d+")
PINNED_DOCS = (
    "README.md",
    "docs/data.md",
    "docs/classifier.md",
    "docs/regressor.md",
    "docs/sampler.md",
    "docs/in_context.md",
    "docs/augment.md",
    "docs/training.md",
    "docs/reliability.md",
    "docs/tasks.md",
    "docs/architecture.md",
    "docs/benchmarks.md",
    "docs/engine.md",
    "docs/hypernet_metric.md",
)


def _tables(text: str) -> Iterator[tuple[list[str], list[list[str]]]]:
    """(JSON paths, body rows as cell lists) of every marked table in ``text``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = MARKER.search(line)
        if not m:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j == len(lines) or not lines[j].lstrip().startswith("|"):
            continue  # a marked paragraph (_paragraphs)
        rows = []
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            rows.append([c.strip() for c in lines[j].strip().strip("|").split("|")])
            j += 1
        body = [r for r in rows[2:] if r]  # header and separator dropped
        yield m.group(1).split(), body


def _paragraphs(text: str) -> Iterator[tuple[list[str], str]]:
    """(JSON paths, text) of every marked prose paragraph in ``text``."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = MARKER.search(line)
        if not m or i + 1 >= len(lines) or not lines[i + 1].strip():
            continue
        if lines[i + 1].lstrip().startswith("|"):
            continue  # a table
        j = i + 1
        while j < len(lines) and lines[j].strip():
            j += 1
        yield m.group(1).split(), "\n".join(lines[i + 1 : j])


PERCENT = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)%")


def _prose_mismatches(text: str) -> list[str]:
    bad = []
    for paths, paragraph in _paragraphs(text):
        values = [v for path in paths for v in _leaves(json.loads((ROOT / path).read_text()))]
        plain = PERCENT.sub(" ", paragraph.replace("**", ""))
        for number in DECIMAL.findall(plain):
            decimals = len(number.split(".")[1])
            if not any(f"{v:.{decimals}f}" == number for v in values):
                bad.append(f"{' '.join(paths)}: {number} in {paragraph[:60]!r}... is in no result")
        for number in PERCENT.findall(paragraph.replace("**", "")):
            decimals = len(number.split(".")[1]) if "." in number else 0
            if not any(f"{100 * v:.{decimals}f}" == number for v in values):
                bad.append(f"{' '.join(paths)}: {number}% in {paragraph[:60]!r}... is in no result")
    return bad


def _leaves(obj) -> Iterator[float]:
    if isinstance(obj, bool):
        return
    if isinstance(obj, (int, float)):
        yield float(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)


def _candidates(payload: dict, key: str) -> list[float]:
    """Numbers a table row may quote: the JSON rows (and summary entries) of its training size."""
    size = key.strip("* ").replace(",", "")
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if size.isdigit() and isinstance(rows, list) and any("n_train" in r for r in rows):
        n = int(size)
        out = [v for r in rows if r.get("n_train") == n for v in _leaves(r)]
        summary = payload.get("summary", {})
        out += [v for k, val in summary.items() if k.endswith(f"@{n}") for v in _leaves(val)]
        return out
    return list(_leaves(payload))


def _mismatches(text: str) -> list[str]:
    bad = []
    for paths, body in _tables(text):
        payloads = [json.loads((ROOT / path).read_text()) for path in paths]
        path = " ".join(paths)
        for row in body:
            values = [v for payload in payloads for v in _candidates(payload, row[0])]
            for cell in row[1:]:
                for number in DECIMAL.findall(cell.replace("**", "")):
                    decimals = len(number.split(".")[1])
                    if not any(f"{v:.{decimals}f}" == number for v in values):
                        bad.append(
                            f"{path}: row {row[0]!r}: {number} (cell {cell!r}) is in no result of that row"
                        )
    return bad


@pytest.mark.parametrize("doc", PINNED_DOCS)
def test_every_number_of_a_pinned_table_is_in_its_results_json(doc):
    text = (ROOT / doc).read_text()
    assert not _mismatches(text), "\n".join(_mismatches(text))


@pytest.mark.parametrize("doc", PINNED_DOCS)
def test_every_number_of_a_pinned_paragraph_is_in_its_results_json(doc):
    text = (ROOT / doc).read_text()
    assert not _prose_mismatches(text), "\n".join(_prose_mismatches(text))


HISTORICAL = re.compile(r"<!--\s*historical:\s*\S.*?-->")
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _numeric_tables_without_a_marker(text: str) -> list[str]:
    """The first line of each table holding a decimal number with no results or historical
    marker in the three lines above it. Numbers inside inline code (an option value such as
    `synthetic@0.5`, a version pin, a log line quoted as it prints) are code, not claims."""
    lines, out, i = text.splitlines(), [], 0
    fenced = False
    while i < len(lines):
        if lines[i].lstrip().startswith("```"):
            fenced = not fenced
        if fenced or not lines[i].lstrip().startswith("|"):
            i += 1
            continue
        j = i
        while j < len(lines) and lines[j].lstrip().startswith("|"):
            j += 1
        body = CODE_SPAN.sub("", "\n".join(lines[i + 2 : j]).replace("**", ""))
        above = [line for line in lines[max(0, i - 3) : i] if line.strip()]
        marked = bool(above) and bool(MARKER.search(above[-1]) or HISTORICAL.search(above[-1]))
        if DECIMAL.search(body) and not marked:
            out.append(lines[i][:80])
        i = j
    return out


#: documents whose tables of numbers are all pinned to a results file or marked historical
FULLY_PINNED_DOCS: tuple[str, ...] = PINNED_DOCS  # every pinned document, today


@pytest.mark.parametrize("doc", FULLY_PINNED_DOCS)
def test_every_numeric_table_is_pinned_or_historical(doc):
    missing = _numeric_tables_without_a_marker((ROOT / doc).read_text())
    assert not missing, f"{doc}: tables with neither marker: {missing}"


def test_the_prose_check_and_the_table_rule_can_fail():
    text = (
        "<!-- results: docs/results/regressor_blend.json -->\n"
        "AutoMetaRegressor scores {r2:.4f} and covers {cover:.1f}% of the targets.\n"
    )
    blend = json.loads((ROOT / "docs/results/regressor_blend.json").read_text())
    row = next(r for r in blend["rows"] if (r["n_train"], r["estimator"]) == (32, "autometa"))
    good = text.format(r2=row["r2"], cover=100 * row["cover80"])
    assert not _prose_mismatches(good)
    assert _prose_mismatches(text.format(r2=row["r2"] + 0.0001, cover=100 * row["cover80"]))
    quoted = {  # every share the file holds, as a percentage with one decimal
        f"{100 * v:.1f}" for r in blend["rows"] for v in r.values() if isinstance(v, float)
    }
    stale = next(
        c
        for c in (100 * row["cover80"] + d for d in (0.3, 0.7, 1.1, 1.9))
        if f"{c:.1f}" not in quoted
    )
    assert _prose_mismatches(text.format(r2=row["r2"], cover=stale))
    table = "| a | b |\n|---|---|\n| x | 0.5 |\n"
    assert _numeric_tables_without_a_marker("text\n\n" + table)
    assert not _numeric_tables_without_a_marker("<!-- historical: run lost -->\n" + table)
    code = "| option | meaning |\n|---|---|\n| `--pool` | `synthetic@0.5,keel-dev@0.5` |\n"
    assert not _numeric_tables_without_a_marker("text\n\n" + code)  # code, not a claim
    assert _numeric_tables_without_a_marker("text\n\n" + code + "| `--lr` | 0.001 by default |\n")


#: README results tables not pinned yet, by the first words of their header, and why. Each entry
#: is a debt: pin the table (run its command with ``--json docs/results/<name>.json``, add the
#: marker) and remove the entry; the test fails when a pinned table is still listed here.
UNPINNED: dict[str, str] = {}


def test_every_results_table_of_the_readme_is_pinned():
    """Each table under the README's "Results" heading names its results JSON (or is a listed debt)."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Results", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    starts = [
        i
        for i, line in enumerate(lines)
        if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|"))
    ]
    assert starts, "no tables under ## Results"
    for i in starts:
        before = [line for line in lines[max(0, i - 3) : i] if line.strip()]
        pinned = bool(before and MARKER.search(before[-1]))
        listed = any(lines[i].startswith(head) for head in UNPINNED)
        assert pinned != listed, (
            f"README results table {lines[i][:80]!r}: pinned={pinned}, in UNPINNED={listed}"
        )


def test_every_marked_json_exists_and_was_written_by_a_command():
    for doc in PINNED_DOCS:
        for paths, _ in _tables((ROOT / doc).read_text()):
            for path in paths:
                payload = json.loads((ROOT / path).read_text())
                if path.startswith("campaigns/"):
                    # a campaign's learning curve, written by ``autometa meta-train`` as it trains
                    assert path.endswith("/curve.json") and payload.get("curve"), path
                    continue
                assert path.startswith(("docs/results/", "autometa/")), path
                command = (
                    payload.get("command")
                    or payload.get("training", {}).get("command")
                    or payload.get("info", {}).get("command")  # a fitted file's own record
                )
                assert payload.get("name") or command, f"{path} does not say what produced it"


def test_the_check_fails_on_a_number_typed_in_by_hand():
    """The checker is not vacuous: one digit changed in a pinned table is caught."""
    text = (ROOT / "README.md").read_text()
    tables = list(_tables(text))
    assert tables, "the README has no pinned table"
    path, body = tables[0]
    cell = next(c for c in body[0][1:] if DECIMAL.search(c.replace("**", "")))
    number = DECIMAL.search(cell.replace("**", "")).group(0)
    wrong = number[:-1] + str((int(number[-1]) + 5) % 10)
    forged = text.replace(f"| {cell} |", f"| {cell.replace(number, wrong)} |", 1)
    assert _mismatches(forged)


def test_the_readme_tables_are_the_ones_their_script_writes(monkeypatch):
    """README's classifier and regressor tables are generated (docs/results/readme_tables.py), not typed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "readme_tables", ROOT / "docs/results/readme_tables.py"
    )
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    text = (ROOT / "README.md").read_text()
    assert module.render(text) == text
    for table in module.TABLES.values():
        assert table.render() in text


def test_a_table_of_several_results_files_is_checked_against_all_of_them():
    blend = json.loads((ROOT / "docs/results/regressor_blend.json").read_text())
    costs = json.loads((ROOT / "docs/results/member_costs.json").read_text())["summary"]
    r2 = next(r["r2"] for r in blend["rows"] if (r["n_train"], r["estimator"]) == (32, "autometa"))
    cpu = costs["regressor_fit_predict_cpu_s@32"]
    text = "<!-- results: docs/results/regressor_blend.json docs/results/member_costs.json -->\n"
    head = "| n_train | a | b |\n|---|---|---|\n"
    assert not _mismatches(text + head + f"| 32 | {r2:.4f} | {cpu:.4f} s |\n")
    assert _mismatches(text + head + f"| 32 | {r2:.4f} | {cpu + 0.0001:.4f} s |\n")


def test_the_hypernet_metric_table_is_the_one_its_script_writes():
    """docs/hypernet_metric.md's results table is ``examples/fewshot_metric.py --table`` of its
    committed JSON files, not typed."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "fewshot_metric", ROOT / "examples/fewshot_metric.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = ["docs/results/fewshot_metric_letter.json", "docs/results/fewshot_metric_digits.json"]
    table = module.markdown_table([str(ROOT / p) for p in paths])
    assert table in (ROOT / "docs/hypernet_metric.md").read_text()
