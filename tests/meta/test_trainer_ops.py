"""MetaTrainer in operation: progress lines without a terminal, and a killed run's MLflow run on resume."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from autometa.meta._progress import ProgressLines

sys.path.insert(0, str(Path(__file__).parent))
from test_trainer import make_trainer  # noqa: E402


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_progress_lines_every_interval_and_at_the_end():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressLines(100, 0, "meta-train maml", every_s=30, stream=out, clock=clock)
    for _ in range(99):
        clock.t += 1.0  # one step per second: a line at 30, 60, 90 s
        bar.set_postfix(loss="0.5000", tasks_s="8.0")
        bar.update(1)
    assert out.getvalue().count("\n") == 3
    clock.t += 1.0
    bar.update(1)
    lines = out.getvalue().splitlines()
    assert (
        lines[0]
        == "meta-train maml: step 30/100 (30%), loss=0.5000, tasks_s=8.0, 30 s elapsed, about 70 s left"
    )
    assert lines[-1].startswith("meta-train maml: step 100/100 (100%)") and "left" not in lines[-1]


def test_progress_lines_every_n_steps_and_after_resume():
    clock, out = FakeClock(), io.StringIO()
    bar = ProgressLines(1000, 500, every_s=1e9, every_steps=100, stream=out, clock=clock)
    for _ in range(200):
        clock.t += 6.0
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert [ln.split(",")[0] for ln in lines] == [
        "meta-train: step 600/1000 (60%)",
        "meta-train: step 700/1000 (70%)",
    ]
    assert (
        "10 min elapsed" in lines[0] and "about 40 min left" in lines[0]
    )  # rate from this run's steps only


def test_trainer_prints_progress_lines_when_stderr_is_not_a_tty(tmp_path, capsys):
    make_trainer(tmp_path, progress=True).fit(3)
    err = capsys.readouterr().err
    assert re.search(r"^meta-train \S+: step 3/3 \(100%\), loss=\d", err, re.M)


def test_resume_marks_the_killed_run_and_links_the_new_one(tmp_path, tracking_uri):
    first = make_trainer(tmp_path, tracking=True).fit(3)
    client = MlflowClient(tracking_uri)
    # a killed process never ends its run: put it back to RUNNING as kill -9 leaves it
    client.update_run(first.run_id, status="RUNNING")
    resumed = make_trainer(tmp_path, tracking=True).fit(5, resume=True)
    old, new = client.get_run(first.run_id), client.get_run(resumed.run_id)
    assert old.info.status == "KILLED"
    assert old.data.tags["autometa.resumed_in"] == resumed.run_id
    assert new.data.tags["autometa.resumed_from_run"] == first.run_id
    assert new.info.status == "FINISHED"


def test_resume_of_a_finished_run_leaves_its_status(tmp_path, tracking_uri):
    first = make_trainer(tmp_path, tracking=True).fit(3)
    resumed = make_trainer(tmp_path, tracking=True).fit(5, resume=True)
    client = MlflowClient(tracking_uri)
    assert client.get_run(first.run_id).info.status == "FINISHED"
    assert client.get_run(resumed.run_id).data.tags["autometa.resumed_from_run"] == first.run_id


def test_resume_from_another_folder_links_but_does_not_kill(tmp_path, tracking_uri):
    # the old folder's process may still be alive: only a run resumed inside the folder whose
    # lock it now holds may mark its predecessor KILLED
    first = make_trainer(tmp_path / "a", tracking=True).fit(3)
    client = MlflowClient(tracking_uri)
    client.update_run(first.run_id, status="RUNNING")
    resumed = make_trainer(tmp_path / "b", tracking=True).fit(5, resume=first.last_checkpoint)
    assert client.get_run(first.run_id).info.status == "RUNNING"
    assert client.get_run(resumed.run_id).data.tags["autometa.resumed_from_run"] == first.run_id
