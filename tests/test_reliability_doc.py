"""docs/reliability.md: every row names a test, and every test it names exists."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reliability.md"


def _rows() -> list[str]:
    """Body rows of the tables whose header is ``| case | behaviour | test |``."""
    rows, in_case, prev = [], False, ""
    for ln in DOC.read_text().splitlines():
        if ln.startswith("|---"):
            in_case = prev.startswith("| case | behaviour | test |")
        elif ln.startswith("| ") and in_case:
            rows.append(ln)
        elif not ln.startswith("|"):
            in_case = False
        prev = ln
    return rows


def test_every_case_row_names_existing_tests():
    checked = 0
    for row in _rows():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 3, row
        refs = re.findall(r"`([^`]+)`", cells[2])
        assert refs, f"row without a test: {row}"
        current: Path | None = None
        for ref in refs:
            path, _, name = ref.partition("::")
            if path:
                current = REPO / path
                assert current.exists(), f"{path} does not exist (row: {cells[0]})"
            if name:
                assert current is not None
                source = current.read_text()
                assert re.search(rf"^def {re.escape(name)}\(", source, re.M), (
                    f"{current.name}::{name} is missing"
                )
            checked += 1
    assert checked >= 40
