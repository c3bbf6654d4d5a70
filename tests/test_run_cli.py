"""The thin CLI over runs and single jobs, against the in-process emulator."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import gembatch as gb
from gembatch.cli import main
from gembatch.emulator import running

pytestmark = pytest.mark.slow


@pytest.fixture
def emu_env(monkeypatch):
    with running(speed=20_000) as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        yield emu


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "articles.jsonl"
    gb.synthetic_articles(30, mean_chars=800).to_json(path, orient="records", lines=True)
    return path


def test_run_status_results_and_resume(emu_env, data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    # submitted, not finished: exit code 3
    assert main(["run", str(data), "--run-dir", str(run_dir), "--id-col", "id", "--no-wait"]) == 3
    assert main(["run", str(data), "--run-dir", str(run_dir), "--id-col", "id", "--max-wait", "60"]) == 0
    assert "30 succeeded" in capsys.readouterr().out
    assert main(["status", str(run_dir), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["succeeded"], summary["state"]) == (30, "done")
    for suffix in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"out.{suffix}"
        assert main(["results", str(run_dir), "-o", str(out)]) == 0
        assert out.exists()
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 30
    capsys.readouterr()
    code = main(["run", str(data), "--run-dir", str(run_dir), "--id-col", "id", "--prompt", "Other: {text}"])
    assert code == 2
    err = capsys.readouterr().err
    assert "these differ from it: the prompt" in err  # names what differs, in words


def test_cancel(emu_env, data, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", str(data), "--run-dir", str(run_dir), "--id-col", "id", "--no-wait"]) == 3
    assert main(["cancel", str(run_dir)]) == 0
    assert "<gembatch.Run" in capsys.readouterr().out
    run = gb.Run.open(run_dir)
    assert run.wait(timeout=60, progress=False)
    assert run.summary()["state"] == "cancelled"


def test_single_job_trio(emu_env, data, tmp_path, capsys):
    assert main(["submit", str(data), "--name", "one-job"]) == 0
    name = capsys.readouterr().out.strip().splitlines()[-1]
    assert name.startswith("batches/")
    for _ in range(200):
        assert main(["status", name]) == 0
        status = json.loads(capsys.readouterr().out)
        if status["state"].endswith(("SUCCEEDED", "FAILED", "EXPIRED", "CANCELLED")):
            break
        emu_env.advance(600)
    assert status["state"] == "BATCH_STATE_SUCCEEDED"
    assert status["requestCount"] == 30
    out = tmp_path / "one.parquet"
    assert main(["results", name, "-o", str(out)]) == 0
    res = pd.read_parquet(out)
    assert len(res) == 30
    assert res.index.is_unique
