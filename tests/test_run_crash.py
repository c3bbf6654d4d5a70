"""Crash safety: SIGKILL the runner at the worst moments, run it again, and prove nothing was lost or doubled.

The runner is a subprocess against an out-of-process emulator (``gembatch emulator start``); the
test-only hook ``GEMBATCH_TEST_CRASH_AT=<point>`` (gembatch/runs/crash.py) makes it SIGKILL itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest
from runs_support import read_ledger

import gembatch as gb
from gembatch.runs.crash import POINTS

pytestmark = pytest.mark.slow

N = 120
RUNNER = """
import sys
import gembatch as gb
arts = gb.read_articles(sys.argv[1])
plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\\n{text}", chunk_tokens=12_000)
run = gb.Run.create(sys.argv[2], arts, plan, inline_limit_bytes=0, poll_min_s=0.02, poll_max_s=0.2,
                    reconcile_grace_s=0.0, backoff_base_s=0.02, backoff_max_s=0.2)
sys.exit(0 if run.wait(timeout=120, progress=False) else 3)
"""


def _gembatch(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gembatch", *args], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("emu")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    _gembatch("emulator", "start", "--state-dir", str(state), "--speed", "20000", env=env)
    url = json.loads((state / "server.json").read_text())["base_url"]
    try:
        yield url
    finally:
        _gembatch("emulator", "stop", "--state-dir", str(state), env=env)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "articles.jsonl"
    gb.synthetic_articles(N, mean_chars=1200, seed=7).rename(columns={"id": "article_id"}).to_json(
        path, orient="records", lines=True
    )
    return path


def _runner(url: str, data: Path, run_dir: Path, crash: str | None = None) -> int:
    env = {**os.environ, "GEMBATCH_EMULATOR_URL": url, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("GEMBATCH_TEST_CRASH_AT", None)
    if crash:
        env["GEMBATCH_TEST_CRASH_AT"] = crash
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(data), str(run_dir)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode


def _final(run_dir: Path, url: str) -> pd.DataFrame:
    run = gb.Run.open(run_dir, client=gb.connect(base_url=url, prefer="emulator"))
    return run.results()[["status", "output_text", "prompt_tokens", "output_tokens"]]


@pytest.fixture(scope="module")
def baseline(emulator, data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline") / "run"
    assert _runner(emulator, data, run_dir) == 0
    return _final(run_dir, emulator)


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_loses_nothing_and_doubles_nothing(emulator, data, baseline, tmp_path, point):
    run_dir = tmp_path / "run"
    assert _runner(emulator, data, run_dir, crash=point) == -signal.SIGKILL, f"never reached {point!r}"
    assert _runner(emulator, data, run_dir) == 0

    run = gb.Run.open(run_dir, client=gb.connect(base_url=emulator, prefer="emulator"))
    stats = httpx.get(f"{emulator}/emulator/v1/stats").json()
    mine = {k: v for k, v in stats["batches_created_by_display_name"].items() if f"/{run.run_id}/" in k}
    assert mine
    assert set(mine.values()) == {1}, f"duplicate remote jobs after a crash at {point}: {mine}"
    assert len(mine) == len(run.chunks())

    rows = read_ledger(run, "SELECT article_id, COUNT(*) FROM results WHERE status='succeeded' GROUP BY 1")
    assert all(n == 1 for _, n in rows), "an article was counted twice"
    final = _final(run_dir, emulator)
    assert (final["status"] == "succeeded").all()
    pd.testing.assert_frame_equal(final, baseline)
    sdk = run.client
    prefix = f"gembatch/{run.run_id}/"
    left = [f.name for f in sdk.files.list() if (f.display_name or "").startswith(prefix)]
    left += [j.name for j in sdk.batches.list() if (j.display_name or "").startswith(prefix)]
    assert left == [], f"the run left files or jobs at the service after a crash at {point}: {left}"
