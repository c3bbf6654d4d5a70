"""Operating a run by its directory alone: resume, pause, retry, set-budget, events, against the
emulator through the CLI's own entry point."""

from __future__ import annotations

import json

import pytest

import gembatch as gb
from gembatch.cli import main
from gembatch.emulator import running

MODEL = "gemini-2.5-flash-lite"


@pytest.fixture
def emu_env(monkeypatch):
    with running(speed=20_000) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        yield emu


def test_pause_resume_events_budget_and_retry_by_directory(emu_env, tmp_path, capsys):
    data = tmp_path / "a.jsonl"
    gb.synthetic_articles(12, mean_chars=500, seed=4).to_json(data, orient="records", lines=True)
    run_dir = str(tmp_path / "run")
    args = ["run", str(data), "--run-dir", run_dir, "--model", MODEL, "--chunk-tokens", "1500"]
    assert main([*args, "--no-wait"]) == 3
    assert main(["pause", run_dir]) == 0
    assert "paused" in capsys.readouterr().out
    assert gb.Run.open(run_dir).summary().state == "paused"
    assert main(["set-budget", run_dir, "5"]) == 0
    assert "budget set to $5.00" in capsys.readouterr().out
    assert gb.Run.open(run_dir).config.budget_usd == 5.0
    assert main(["set-budget", run_dir, "nan"]) == 2
    assert "budget must be a positive number" in capsys.readouterr().err
    assert main(["resume", run_dir, "--max-wait", "60"]) == 0  # no flags repeated: the stored request
    out = capsys.readouterr().out
    assert "12 succeeded" in out or "12 / 12 done" in out
    summary = gb.Run.open(run_dir).summary()
    assert (summary.state, summary.succeeded) == ("done", 12)
    assert main(["events", run_dir, "--tail", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = {line.split(" ")[2].rstrip(":") for line in lines}
    assert {"pause", "resume", "budget", "done"} <= kinds
    assert main(["events", run_dir, "--json", "--tail", "3"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert main(["retry", run_dir]) == 0
    assert "0 failed article(s) re-queued" in capsys.readouterr().out
    assert main(["resume", "no/such/dir"]) == 2
    assert "holds no gembatch run" in capsys.readouterr().err
