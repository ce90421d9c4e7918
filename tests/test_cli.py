from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autometa.cli import main


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("info", "meta-train", "bench"):
        assert cmd in out


def test_unknown_command_errors(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_info_json_reports_device_and_tracking(capsys, tracking_uri):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["device"] == "cpu" or info["device"].startswith("cuda")
    assert info["tracking_uri"] == tracking_uri
    assert isinstance(info["checkpoints"], list)
    assert isinstance(info["pools"], dict)


def test_console_entry_point_runs_offline():
    out = subprocess.run(
        [sys.executable, "-m", "autometa", "info"], capture_output=True, text=True, check=True
    ).stdout
    assert "tracking URI" in out


def test_bench_unknown_name_errors(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "nope"])
