"""RecordLog: records survive a restart, and a record cut short by a kill is collected again."""

from __future__ import annotations

from autometa._record_log import RecordLog


def _record(seed):
    return {"dataset": "keel/wine", "n": 32, "seed": seed, "score": 0.5 + seed}


def test_records_are_read_back_after_a_restart(tmp_path):
    path = tmp_path / "records.pkl"
    with RecordLog(path) as log:
        log.add(_record(0))
        log.add(_record(1))
    again = RecordLog(path)
    assert ("keel/wine", 32, 1) in again and ("keel/wine", 32, 2) not in again
    assert again.done[("keel/wine", 32, 1)]["score"] == 1.5


def test_a_partial_last_record_is_dropped_and_the_log_goes_on(tmp_path):
    path = tmp_path / "records.pkl"
    with RecordLog(path) as log:
        log.add(_record(0))
        log.add(_record(1))
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # killed while writing the second record
    log = RecordLog(path)
    assert list(log.done) == [("keel/wine", 32, 0)]
    with log:
        log.add(_record(1))
    assert list(RecordLog(path).done) == [("keel/wine", 32, 0), ("keel/wine", 32, 1)]
