"""The heap guard trims a fragmented CPU heap past its limit, and only then."""

from __future__ import annotations

import numpy as np
import pytest

from autometa._heap import HeapGuard, anonymous_rss_mb

linux_glibc = pytest.mark.skipif(
    not HeapGuard().available, reason="malloc_trim and /proc need Linux with glibc"
)


@linux_glibc
def test_rss_is_read() -> None:
    rss = anonymous_rss_mb()
    assert rss is not None and rss > 1.0


@linux_glibc
def test_trims_above_the_limit_only() -> None:
    never = HeapGuard(float("inf"))
    assert never() is False and never.trims == 0
    assert HeapGuard(-1)() is False
    always = HeapGuard(0)
    assert always() is True and always() is True and always.trims == 2


@linux_glibc
def test_trim_returns_fragmented_memory() -> None:
    # free every other block of many mid-sized allocations, then a small live block on top:
    # the freed holes stay in the process until trimmed
    blocks = [np.ones(20_000) for _ in range(4000)]  # ~640 MB in 160 KB blocks
    del blocks[::2]
    before = anonymous_rss_mb()
    assert HeapGuard(0)() is True
    after = anonymous_rss_mb()
    assert before is not None and after is not None
    assert after <= before
    del blocks


def test_env_sets_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOMETA_HEAP_LIMIT_MB", "123")
    assert HeapGuard().limit_mb == 123.0
    assert HeapGuard(7).limit_mb == 7.0
