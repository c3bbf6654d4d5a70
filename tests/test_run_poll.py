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
