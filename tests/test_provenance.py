"""The provenance facts every shipped file's model card records."""

from __future__ import annotations

import hashlib

from autometa._provenance import git_commit, sha256_file


def test_sha256_and_commit(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"autometa")
    assert sha256_file(path) == hashlib.sha256(b"autometa").hexdigest()
    commit = git_commit()
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)


def test_write_card_records_name_file_hash_and_facts(tmp_path):
    import json

    import numpy as np

    from autometa._provenance import recipe_command, write_card
    from autometa.meta._integrity import recorded_hashes

    shipped = tmp_path / "thing.json"
    shipped.write_text('{"weights": [1, 2]}')
    facts = {"command": recipe_command("autometa.x", ["--out", "a b"]), "score": np.float64(0.5),
             "sizes": np.arange(2)}  # fmt: skip
    card = write_card(tmp_path / "thing_model_card.json", shipped, facts, name="a thing")
    on_disk = json.loads((tmp_path / "thing_model_card.json").read_text())
    assert list(on_disk)[:3] == ["name", "file", "sha256"] and on_disk == {**card, "sizes": [0, 1]}
    assert on_disk["sha256"] == hashlib.sha256(shipped.read_bytes()).hexdigest()
    assert on_disk["command"] == "python -m autometa.x --out 'a b'" and on_disk["score"] == 0.5
    # the integrity check reads the hash from the card just written
    assert recorded_hashes(tmp_path)["thing.json"] == (on_disk["sha256"], "thing_model_card.json")


def test_write_card_for_several_files_records_a_hash_map_last(tmp_path):
    import json

    from autometa._provenance import write_card
    from autometa.meta._integrity import recorded_hashes

    a, b = tmp_path / "a.pt", tmp_path / "b.json"
    a.write_bytes(b"weights")
    b.write_text("{}")
    write_card(tmp_path / "model_card.json", [a, b, tmp_path / "missing.pt"], {"commands": {}})
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert list(card) == ["commands", "sha256"]
    assert card["sha256"] == {"a.pt": hashlib.sha256(b"weights").hexdigest(),
                              "b.json": hashlib.sha256(b"{}").hexdigest()}  # fmt: skip
    assert set(recorded_hashes(tmp_path)) == {"a.pt", "b.json"}


def _file_in_two_cards(tmp_path):
    """``a.pt`` recorded in its own card and in a shared ``model_card.json``, then rewritten."""
    from autometa._provenance import write_card

    a, b = tmp_path / "a.pt", tmp_path / "b.json"
    a.write_bytes(b"1")
    b.write_text("{}")
    write_card(tmp_path / "model_card.json", [a, b], {"name": "two files"})
    write_card(tmp_path / "a_model_card.json", a, {})
    a.write_bytes(b"2")
    return a


def test_record_hash_updates_the_card_that_records_the_file(tmp_path):
    import json

    import pytest

    from autometa._provenance import record_hash

    a = _file_in_two_cards(tmp_path)
    assert record_hash(tmp_path / "model_card.json", a) == hashlib.sha256(b"2").hexdigest()
    record_hash(tmp_path / "a_model_card.json", a)
    shared = json.loads((tmp_path / "model_card.json").read_text())
    assert (
        shared["sha256"]["a.pt"]
        == json.loads((tmp_path / "a_model_card.json").read_text())["sha256"]
    )
    assert shared["name"] == "two files"
    with pytest.raises(ValueError, match="records no SHA-256 for c.pt"):
        record_hash(tmp_path / "model_card.json", tmp_path / "c.pt")


def test_sync_hash_updates_every_card_that_names_the_file(tmp_path):
    """A file named in its own card and in a shared card: rewriting it and its own card, then
    ``sync_hash``, leaves no card stale (``recorded_hashes`` would refuse a disagreement, and
    loading the file with it: the first ship of the retrained ``classifier_in_context.pt`` did)."""
    import pytest

    from autometa._provenance import sync_hash, write_card
    from autometa.meta._integrity import recorded_hashes

    a = _file_in_two_cards(tmp_path)
    write_card(tmp_path / "a_model_card.json", a, {})  # what an export writes
    with pytest.raises(ValueError, match="different SHA-256s for a.pt"):
        recorded_hashes(tmp_path)
    assert sync_hash(a) == ["a_model_card.json", "model_card.json"]
    assert recorded_hashes(tmp_path)["a.pt"][0] == hashlib.sha256(b"2").hexdigest()
    assert sync_hash(tmp_path / "elsewhere.pt") == []
