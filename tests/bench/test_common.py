from __future__ import annotations

import argparse
import json

from mlflow.tracking import MlflowClient

from autometa.bench import BenchResult, format_table, report


def test_format_table_aligns_columns():
    out = format_table([{"a": "x", "b": 1.23456}, {"a": "longer", "b": 10.0}])
    lines = out.splitlines()
    assert lines[0].startswith("| a ")
    assert len({len(line) for line in lines}) == 1
    assert "1.2346" in out and "10.00" in out


def test_report_prints_writes_json_and_logs(tracking_uri, tmp_path, capsys):
    result = BenchResult(
        name="unit",
        rows=[{"algo": "maml", "tasks_per_s": 12.5}, {"algo": "reference", "tasks_per_s": 4.0}],
        params={"batch": 8},
        summary={"speedup": 3.125},
    )
    path = tmp_path / "out" / "r.json"
    rc = report(
        result, argparse.Namespace(json=str(path), no_mlflow=False, experiment="bench-test")
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "maml" in printed and "speedup: 3.1250" in printed
    data = json.loads(path.read_text())
    assert data["rows"][0]["tasks_per_s"] == 12.5
    assert data["summary"]["speedup"] == 3.125
    assert "torch" in data["environment"]
    client = MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name("bench-test")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.metrics["maml/tasks_per_s"] == 12.5
    assert run.data.metrics["summary/speedup"] == 3.125


def test_cell_records_reuse_append_and_select(tmp_path, capsys):
    import json

    from autometa.bench._common import CellRecords

    old = {"estimator": "rf", "dataset": "a", "n_train": 32, "seed": 0, "auc": 0.7}
    (tmp_path / "old.jsonl").write_text(json.dumps(old) + "\n\n")
    raw = tmp_path / "raw.jsonl"
    with CellRecords(
        [tmp_path / "old.jsonl"], raw, lambda r: f"cell {r['dataset']} {r['seed']}"
    ) as store:
        assert store.done == {("rf", "a", 32, 0)}
        store.add({**old, "seed": 1})
        store.add({**old, "dataset": "b", "n_train": 128})
    assert "cell a 1" in capsys.readouterr().out
    assert [json.loads(line)["seed"] for line in raw.read_text().splitlines()] == [1, 0]
    assert [(r["dataset"], r["seed"]) for r in store.select([32], ["a", "b"], 2)] == [
        ("a", 0),
        ("a", 1),
    ]
    assert store.select([32], ["a"], 1) == [old]


def test_cell_records_a_later_reuse_file_replaces_a_cell(tmp_path):
    """A cell two --reuse files hold is counted once, from the last file (the "before" report)."""
    import json

    from autometa.bench._common import CellRecords

    cell = {"estimator": "am", "dataset": "a", "n_train": 32, "seed": 0}
    (tmp_path / "new.jsonl").write_text(json.dumps({**cell, "r2": 0.5}) + "\n")
    (tmp_path / "old.jsonl").write_text(json.dumps({**cell, "r2": 0.4}) + "\n")
    with CellRecords([tmp_path / "new.jsonl", tmp_path / "old.jsonl"], None, str) as store:
        assert store.records == [{**cell, "r2": 0.4}]
    with CellRecords([tmp_path / "old.jsonl", tmp_path / "new.jsonl"], None, str) as store:
        assert store.records == [{**cell, "r2": 0.5}]
