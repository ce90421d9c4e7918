from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from autometa.tasks._episodic import _split_sizes
from autometa.tasks._split import allocate, stratified_sample, support_query_split


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=1, max_size=8),
    frac=st.floats(0.0, 1.0),
)
def test_property_allocate(counts, frac):
    counts = np.array(counts)
    n = int(round(frac * counts.sum()))
    out = allocate(counts, n)
    assert out.sum() == min(n, counts.sum()) and np.all(out <= counts) and np.all(out >= 0)
    present = counts > 0
    if n >= present.sum():
        assert np.all(out[present] >= 1)


@settings(max_examples=60, deadline=None)
@given(
    n_classes=st.integers(2, 6),
    n_rows=st.integers(2, 80),
    n_support=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_support_query_split(n_classes, n_rows, n_support, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_rows)
    n_support = min(n_support, n_rows)
    support, query = support_query_split(y, n_support, np.random.default_rng(seed))
    assert len(support) == n_support and len(np.intersect1d(support, query)) == 0
    assert set(y[query]) <= set(y[support])
    if n_support >= len(np.unique(y)):
        assert set(y[support]) == set(y)
    again = support_query_split(y, n_support, np.random.default_rng(seed))
    assert np.array_equal(again[0], support) and np.array_equal(again[1], query)
    sample = stratified_sample(y, n_support, np.random.default_rng(seed))
    assert len(np.unique(sample)) == len(sample) == n_support


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), a=st.integers(0, 10), b=st.integers(0, 10), c=st.integers(1, 10))
def test_property_split_sizes_cover_all_classes(n, a, b, c):
    fractions = np.array([a, b, c]) / (a + b + c)
    sizes = _split_sizes(n, fractions)
    assert sum(sizes) == n and all(s >= 0 for s in sizes)
    assert all(abs(s - f * n) < 1 for s, f in zip(sizes, fractions, strict=True))
