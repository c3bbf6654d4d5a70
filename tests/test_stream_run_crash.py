"""Crash safety of a streamed run: SIGKILL mid-create and at the worst moments of the run, run it
again from the same Parquet source, and prove nothing was lost or doubled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from runs_support import read_ledger

import gembatch as gb

pytestmark = pytest.mark.slow

N = 400
RUNNER = """
import os, signal, sys
import gembatch as gb
from gembatch.runs.store import RunStore

if os.environ.get("KILL_IN_CREATE"):  # SIGKILL after the second batch of articles is written
    add, calls = RunStore.add_planned_articles, []
    def killing(self, rows):
        add(self, rows)
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    RunStore.add_planned_articles = killing
src = gb.ArticleStream(sys.argv[1], batch_size=100)
spec = gb.RequestSpec.create("gemini-2.5-flash-lite", "Summarise:\\n{text}")
plan = gb.plan_stream(src, spec, chunk_tokens=25_000)
run = gb.Run.create(sys.argv[2], src, plan, inline_limit_bytes=0, poll_min_s=0.02, poll_max_s=0.2,
                    reconcile_grace_s=0.0, backoff_base_s=0.02, backoff_max_s=0.2)
sys.exit(0 if run.wait(timeout=120, progress=False) else 3)
"""


def _gembatch(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "gembatch", *args], capture_output=True, env=env, check=True)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    state = tmp_path_factory.mktemp("emu")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    # 2,000x: output files live 48 emulated hours = 86 s, enough for a rerun on a loaded machine
    _gembatch("emulator", "start", "--state-dir", str(state), "--speed", "2000", env=env)
    url = json.loads((state / "server.json").read_text())["base_url"]
    try:
        yield url
    finally:
        _gembatch("emulator", "stop", "--state-dir", str(state), env=env)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "articles.parquet"
    frame = gb.synthetic_articles(N, mean_chars=800, seed=9)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=64)
    return path


def _runner(url: str, data: Path, run_dir: Path, crash: str | None = None) -> int:
    env = {**os.environ, "GEMBATCH_EMULATOR_URL": url, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("GEMBATCH_TEST_CRASH_AT", None)
    env.pop("KILL_IN_CREATE", None)
    if crash == "create":
        env["KILL_IN_CREATE"] = "1"
    elif crash:
        env["GEMBATCH_TEST_CRASH_AT"] = crash
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(data), str(run_dir)], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode


def _final(run_dir: Path, url: str) -> pd.DataFrame:
    run = gb.Run.open(run_dir, client=gb.connect(base_url=url, prefer="emulator"))
    return run.results()[["status", "output_text", "prompt_tokens", "output_tokens"]]


@pytest.mark.parametrize("point", ["create", "intent", "upload", "download", "collect"])
def test_sigkill_then_rerun_loses_nothing_and_doubles_nothing(emulator, data, tmp_path, point):
    run_dir = tmp_path / "run"
    assert _runner(emulator, data, run_dir, crash=point) == -signal.SIGKILL, f"never reached {point!r}"
    if point == "create":
        assert not (run_dir / "articles.parquet").exists(), "the snapshot appears only with the run"
    assert _runner(emulator, data, run_dir) == 0

    run = gb.Run.open(run_dir, client=gb.connect(base_url=emulator, prefer="emulator"))
    stats = httpx.get(f"{emulator}/emulator/v1/stats").json()
    mine = {k: v for k, v in stats["batches_created_by_display_name"].items() if f"/{run.run_id}/" in k}
    assert len(mine) == len(run.chunks()) > 1
    assert set(mine.values()) == {1}, f"duplicate remote jobs after a crash at {point}: {mine}"
    rows = read_ledger(run, "SELECT article_id, COUNT(*) FROM results WHERE status='succeeded' GROUP BY 1")
    assert all(n == 1 for _, n in rows), "an article was counted twice"
    final = _final(run_dir, emulator)
    assert len(final) == N
    assert (final["status"] == "succeeded").all()
    assert final["output_text"].str.len().gt(0).all()
