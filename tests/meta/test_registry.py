"""The learner registry is a table: a built-in name resolves by importing its one defining module."""

from __future__ import annotations

from autometa.meta._base import BUILTIN_LEARNERS, LEARNERS, build_learner, ensure_registered


def test_the_table_names_every_learner_of_autometa_meta_where_it_is_defined():
    import autometa.meta  # noqa: F401  (registers everything)

    from_meta = {
        name for name, cls in LEARNERS.items() if cls.__module__.startswith("autometa.meta.")
    }
    assert from_meta == set(BUILTIN_LEARNERS)
    for name in BUILTIN_LEARNERS:
        assert LEARNERS[name].__module__ == BUILTIN_LEARNERS[name], name


def test_unknown_names_list_the_table():
    import pytest

    with pytest.raises(ValueError, match="maml"):
        build_learner("no-such-learner")
    ensure_registered("no-such-learner", "os")  # a module outside autometa is never imported
    assert "no-such-learner" not in LEARNERS
