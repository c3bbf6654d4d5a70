"""Resume at notebook level: SIGKILL the runbook mid-run, execute it again, same results as a clean run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pytest
from nbsupport import NOTEBOOKS, TIMEOUT_S, execute

pytestmark = pytest.mark.slow

RUNBOOK = NOTEBOOKS["20_runbook_12k.ipynb"]
# ~40 small jobs; at this speed each takes a few real seconds, so a kill lands while jobs are in flight
PARAMS: dict[str, Any] = {
    "n_synthetic": 1500,
    "chunk_tokens": 120_000,
    "backend": "emulator",
    "emulator_speed": 30.0,
    "display_mode": "static",
    "cache": False,  # the killed run must send its articles, not find the clean run's answers
}


def _papermill_argv(out: Path, params: dict[str, Any]) -> list[str]:
    argv = [sys.executable, "-m", "papermill", str(RUNBOOK), str(out), "-k", "python3", "--no-progress-bar"]
    argv += ["--execution-timeout", str(TIMEOUT_S)]
    for key, value in params.items():
        argv += ["-p", key, str(value)]
    return argv


def _ledger_state(run_dir: Path) -> tuple[int, int, bool]:
    """(chunks collected, chunks in total, done) read from the ledger; (0, 0, False) before it exists."""
    path = run_dir / "ledger.sqlite"
    if not path.exists():
        return 0, 0, False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            collected, total = db.execute("SELECT SUM(state = 'collected'), COUNT(*) FROM chunks").fetchone()
            done = db.execute("SELECT value FROM meta WHERE key = 'done'").fetchone()
    except sqlite3.Error:
        return 0, 0, False
    return int(collected or 0), int(total or 0), bool(done and json.loads(done[0]))


def _kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL papermill and the kernel it started (only our own processes, by pid)."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child.pid, signal.SIGKILL)
    proc.kill()
    proc.wait(timeout=30)


def _compare(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = ["status", "output_text", "prompt_tokens", "output_tokens", "finish_reason"]
    assert list(a.index) == list(b.index)
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_killed_runbook_resumes_to_the_same_results(tmp_path: Path):
    clean_dir, killed_dir = tmp_path / "runs" / "clean", tmp_path / "runs" / "killed"
    execute(RUNBOOK, tmp_path / "clean.ipynb", {**PARAMS, "run_dir": "runs/clean"}, cwd=tmp_path)
    clean = pd.read_parquet(clean_dir / "results.parquet")
    assert len(clean) == 1500

    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    argv = _papermill_argv(tmp_path / "killed-1.ipynb", {**PARAMS, "run_dir": "runs/killed"})
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while True:
            collected, total, done = _ledger_state(killed_dir)
            if collected >= 1:
                break
            assert proc.poll() is None, "the runbook ended before it could be killed"
            assert time.monotonic() < deadline, "no chunk was collected in time"
            time.sleep(0.05)
    finally:
        _kill_tree(proc)
    assert not done, "killed too late: the run had already finished"
    assert collected < total, "killed too late: every chunk was collected"

    execute(RUNBOOK, tmp_path / "killed-2.ipynb", {**PARAMS, "run_dir": "runs/killed"}, cwd=tmp_path)
    resumed = pd.read_parquet(killed_dir / "results.parquet")
    _compare(resumed, clean)
    summary = json.loads((killed_dir / "summary.json").read_text())
    assert summary["accounted"] is True
    assert summary["done"] is True
    events = summary["chunks"]
    assert events == {"collected": total}, "every chunk collected once, none resubmitted"


def test_max_wait_returns_with_work_in_flight_then_resumes(tmp_path: Path):
    params = {
        **PARAMS,
        "n_synthetic": 600,
        "run_dir": "runs/bounded",
        "emulator_speed": 2.0,
        "max_wait_s": 3.0,
    }
    execute(RUNBOOK, tmp_path / "bounded-1.ipynb", params, cwd=tmp_path)  # returns cleanly: no exception
    first = json.loads((tmp_path / "runs" / "bounded" / "summary.json").read_text())
    assert first["finished"] is False
    assert first["done"] is False
    assert first["pending"] > 0
    assert first["accounted"] is True  # pending articles have a row too
    assert first["jobs_in_flight"] > 0

    params.update(emulator_speed=50_000.0, max_wait_s=0.0)  # the operational knob may change on resume
    execute(RUNBOOK, tmp_path / "bounded-2.ipynb", params, cwd=tmp_path)
    second = json.loads((tmp_path / "runs" / "bounded" / "summary.json").read_text())
    assert second["done"] is True
    assert second["run_id"] == first["run_id"]
    assert second["succeeded"] == 600
