from __future__ import annotations

import numpy as np
import pytest

from autometa.tasks import TabularEncoder, datasets

RESERVED_BALANCED = {
    "australian",
    "bands",
    "german",
    "heart",
    "ionosphere",
    "mammographic",
    "movement_libras",
    "pima",
    "saheart",
    "segment",
    "sonar",
    "spambase",
    "vehicle",
    "vowel",
}
RESERVED_IMBALANCED = {"pima", "segment0", "vehicle0", "vehicle1", "vehicle2", "vehicle3", "vowel0"}


def test_dev_and_reserved_split_matches_benchmarks_md():
    assert set(datasets.list_datasets("reserved", "keel-balanced")) == {
        f"keel/{n}" for n in RESERVED_BALANCED
    }
    assert set(datasets.list_datasets("reserved", "keel-imbalanced")) == {
        f"keel-imb/{n}" for n in RESERVED_IMBALANCED
    }
    assert len(datasets.list_datasets("dev", "keel-balanced")) == 29
    assert len(datasets.list_datasets("dev", "keel-imbalanced")) == 93
    assert datasets.list_datasets("dev", "sklearn") == [
        "sklearn/breast_cancer",
        "sklearn/digits",
        "sklearn/iris",
        "sklearn/wine",
    ]
    assert not set(datasets.list_datasets("dev")) & set(datasets.list_datasets("reserved"))
    assert datasets.is_reserved("pima") and not datasets.is_reserved("letter")


def test_reserved_sets_are_refused():
    with pytest.raises(ValueError, match="reserved data set.*evaluation_only=True"):
        datasets.load_dataset("sonar")
    with pytest.raises(ValueError, match="reserved"):
        datasets.load_dataset("keel-imb/vowel0")


def test_no_dev_set_shares_a_family_with_a_reserved_set():
    reserved_families = {datasets.family_of(n) for n in datasets.list_datasets("reserved")}
    assert not [
        n for n in datasets.list_datasets("dev") if datasets.family_of(n) in reserved_families
    ]


def test_duplicate_groups():
    assert datasets.duplicates_of("sklearn/breast_cancer") == ["keel/wdbc"]
    assert datasets.duplicates_of("keel/wine") == ["sklearn/wine"]
    assert datasets.duplicates_of("sklearn/iris") == ["keel-imb/iris0", "keel/iris"]
    assert datasets.duplicates_of("sklearn/digits") == ["keel/optdigits"]
    assert "keel-imb/ecoli-0_vs_1" in datasets.duplicates_of("ecoli1")
    assert datasets.duplicates_of("letter") == []


def test_name_resolution():
    assert datasets.resolve_name("letter") == "keel/letter"
    assert datasets.resolve_name("iris") == "keel/iris"  # KEEL balanced first
    assert datasets.resolve_name("iris0") == "keel-imb/iris0"
    assert datasets.resolve_name("digits") == "sklearn/digits"
    with pytest.raises(ValueError, match="Did you mean 'letter'"):
        datasets.resolve_name("leter")
    with pytest.raises(ValueError, match="split must be"):
        datasets.list_datasets("test")


def test_keel_files_load_with_string_features_and_missing_values():
    X, y = datasets.load_dataset("breast")
    assert X.shape == (277, 9) and y.nunique() == 2
    assert str(X.dtypes.iloc[0]) in ("str", "object", "string")
    enc = TabularEncoder().fit(X, y)
    assert enc.categorical_[:5].all()
    x, mask = enc.transform(X)
    assert np.isfinite(x).all() and mask.sum() == 9
    Xc, _ = datasets.load_dataset("cleveland-0_vs_4")  # "<null>" marks missing values
    assert Xc.isna().sum().sum() > 0 and all(dt.kind == "f" for dt in Xc.dtypes)


def test_loads_return_fresh_copies():
    X1, _ = datasets.load_dataset("tae")
    X1.iloc[0, 0] = -999
    X2, _ = datasets.load_dataset("tae")
    assert X2.iloc[0, 0] != -999


def test_dev_split_partitions_whole_families():
    train, val = datasets.dev_split("train"), datasets.dev_split("val")
    assert not set(train) & set(val)
    assert set(train) | set(val) == set(datasets.list_datasets("dev"))
    fam_train = {datasets.family_of(n) for n in train}
    fam_val = {datasets.family_of(n) for n in val}
    assert not fam_train & fam_val
    assert datasets.dev_split("val", seed=0) == val
    assert datasets.dev_split("val", seed=1) != val
    assert datasets.dev_split("all", source="sklearn") == datasets.list_datasets("dev", "sklearn")
    for source in ("keel-balanced", "keel-imbalanced", "sklearn"):
        assert datasets.dev_split("train", source=source) and datasets.dev_split(
            "val", source=source
        )
    # copies follow each other: scikit-learn iris is on the side of KEEL iris
    side = {n: s for s in ("train", "val") for n in datasets.dev_split(s)}
    for name in datasets.list_datasets("dev", "sklearn"):
        assert all(side[d] == side[name] for d in datasets.duplicates_of(name))


def test_read_keel_with_attribute_header(tmp_path):
    path = tmp_path / "toy.dat"
    path.write_text(
        "@relation toy\n@attribute a real\n@attribute b {x, y}\n@attribute class {p, n}\n"
        "@inputs a, b\n@outputs class\n@data\n1.0, x, p\n?, y, n\n2.5, <null>, p\n"
    )
    df = datasets.read_keel(path)
    assert list(df.columns) == ["a", "b", "class"]
    assert df.shape == (3, 3) and df["a"].isna().sum() == 1 and df["b"].isna().sum() == 1
