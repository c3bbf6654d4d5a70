"""Polling keeps going when a job's input file is already gone at the service (expired or deleted)."""

from __future__ import annotations

from typing import Any

import gembatch as gb
from gembatch.emulator import running
from tests.runs_support import FAST, articles, make_plan, read_ledger, small_catalog


def test_an_input_file_already_gone_is_not_an_error(tmp_path: Any) -> None:
    arts = articles(10, seed=2)
    cat = small_catalog(400_000)
    plan = make_plan(arts, cat)
    with running(speed=0, catalog=cat, profile="calm", seed=1) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), inline_limit_bytes=0, **FAST)
        run.step()  # uploads and submits; the input files are deleted on a later sweep
        rows = read_ledger(run, "SELECT input_file FROM chunks WHERE input_file IS NOT NULL")
        files = [r["input_file"] for r in rows]
        assert files
        for name in files:  # gone behind the run's back (as after the 48 h expiry)
            emu.client().files.delete(name=name)
        steps = 0
        while not run.step().done:
            emu.advance(600)
            steps += 1
            assert steps < 500
    assert run.summary().succeeded == len(arts)
    left = read_ledger(run, "SELECT COUNT(*) n FROM chunks WHERE input_file IS NOT NULL")[0]["n"]
    assert left == 0


def test_an_output_file_already_gone_sends_the_articles_again(tmp_path: Any) -> None:
    arts = articles(12, seed=3)
    cat = small_catalog(400_000)
    plan = make_plan(arts, cat)
    with running(speed=0, catalog=cat, profile="calm", seed=1) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), inline_limit_bytes=0, **FAST)
        run.step()  # submitted; on the manual clock nothing has finished yet
        emu.advance(6 * 3600)  # every job finishes at the emulator ...
        gone = []
        for job in emu.client().batches.list():
            if job.dest is not None and job.dest.file_name:
                emu.client().files.delete(name=job.dest.file_name)  # ... and its output is lost
                gone.append(job.dest.file_name)
        assert gone, "the jobs wrote output files"
        steps = 0
        while not run.step().done:
            emu.advance(600)
            steps += 1
            assert steps < 500
    summary = run.summary()
    assert summary.succeeded == len(arts)
    assert summary.failed == 0
    attempts = read_ledger(run, "SELECT MAX(attempt) AS a FROM chunks")[0]["a"]
    assert attempts >= 2, "the lost articles went out again in a new attempt"
    events = " ".join(str(m) for m in run.events()["message"])
    assert "is gone" in events
