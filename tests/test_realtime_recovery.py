"""Real-time recovery: SIGKILL mid-run then resume (each article once); hybrid finish of stuck batch jobs."""

from __future__ import annotations

import collections
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import realtime_support as rs
from runs_support import read_ledger

import gembatch as gb
from gembatch.runs.states import from_remote
from gembatch.transport.connect import as_transport

pytestmark = pytest.mark.slow

RUNNER = """
import json, sys
import gembatch as gb
cat = gb.load_catalog(json.loads(sys.argv[3]))
arts = gb.read_articles(sys.argv[1])
plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\\n{text}", catalog=cat)
run = gb.Run.create(sys.argv[2], arts, plan, mode="realtime", realtime=json.loads(sys.argv[4]))
sys.exit(0 if run.wait(progress=False) else 3)
"""
CONCURRENCY = 8


def _results(run_dir) -> int:
    path = run_dir / "ledger.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # created but no schema yet
        return 0


def test_sigkill_mid_run_then_resume_records_each_article_once(tmp_path):
    n, rpm = 300, 40  # 40 requests per 2 s window: the run takes several windows
    overrides = {rs.MODEL: {"rpm": {"tier1": rpm}, "tpm": {"tier1": 1_000_000}}}
    options = {**rs.OPTIONS, "max_concurrency": CONCURRENCY}
    data = tmp_path / "a.jsonl"
    gb.synthetic_articles(n, mean_chars=400, seed=9).rename(columns={"id": "article_id"}).to_json(
        data, orient="records", lines=True
    )
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-c", RUNNER, str(data), str(run_dir), json.dumps(overrides), json.dumps(options)]
    with gb.emulator.running(speed=600, catalog=gb.load_catalog(overrides), profile=rs.SHORT_WINDOW) as emu:
        env = {**os.environ, "GEMBATCH_EMULATOR_URL": emu.base_url, "NO_PROXY": "127.0.0.1,localhost"}
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while _results(run_dir) < 100 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, f"the runner ended before it could be killed: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        proc.stderr.close()
        recorded_at_kill = _results(run_dir)
        assert 100 <= recorded_at_kill < n

        again = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        assert again.returncode == 0, again.stderr[-3000:]
        stats = emu.stats()

    run = gb.Run.open(run_dir, client=None)
    res = run.results()
    assert len(res) == n
    assert (res["status"] == "succeeded").all()
    rows = rs.result_rows(run)
    per_article = collections.Counter(r["article_id"] for r in rows)
    assert set(per_article.values()) == {1}, "an article was recorded twice"
    unique = rs.unique_requests(run)
    assert len(rows) == unique
    # the kill lost at most the requests in flight: they were sent again, and recorded once
    sent = stats["requests"]["models.generate_content"] - stats["responses_429"]
    assert unique <= sent <= unique + CONCURRENCY
    # The resumed limiter counts what the ledger recorded in the last window, but not the dead
    # process's requests in flight: a few 429s may follow a restart, each waited out and retried.
    assert stats["responses_429"] <= 2 * CONCURRENCY


def _remote_states(client, names):
    transport = as_transport(client)
    return {name: str(transport.get(name).state) for name in names}


def test_finish_realtime_moves_stuck_batch_jobs_without_paying_twice(tmp_path):
    cat = rs.catalog(rpm=200, tpm=1_000_000, quota=10_000_000)
    arts = rs.articles(120, mean_chars=600, seed=8)
    plan = gb.plan(arts, rs.MODEL, catalog=cat, prompt="Summarise:\n{text}", chunk_tokens=4_000)
    assert len(plan.chunks) >= 4
    # speed 1: a batch job queues for about a minute, so every job is still PENDING after submit
    with gb.emulator.running(speed=1.0, catalog=cat, profile=rs.SHORT_WINDOW) as emu:
        client = emu.client()
        run = gb.Run.create(tmp_path / "run", arts, plan, client=client, poll_min_s=0.02)
        run.step()
        chunks = run.chunks()
        names = chunks["batch_name"].dropna().tolist()
        assert len(names) == len(chunks), "every chunk was submitted"
        # let the emulated service finish some jobs (not all): those must be collected, not resent
        for _ in range(200):
            states = _remote_states(client, names)
            done = {n for n, s in states.items() if from_remote(s) is not None}
            if done:
                break
            emu.advance(5)
        assert done
        assert len(done) < len(names), "some jobs must still be pending when real time takes over"
        finished = set(chunks.index[chunks["batch_name"].isin(done)])

        emu.inject_fault("batches.cancel", status=503, count=1)  # one cancel fails: retried, never skipped
        assert run.finish_realtime(progress=False, **rs.OPTIONS)
        stats = emu.stats()

    res = run.results()
    assert (res["status"] == "succeeded").all()
    rows = rs.result_rows(run)
    billed = collections.Counter(r["article_id"] for r in rows if r["cost_usd"] > 0)
    assert set(billed.values()) == {1}, "an article was paid for twice"
    assert len(billed) == rs.unique_requests(run)
    by_article = collections.defaultdict(set)
    for r in rows:
        by_article[r["article_id"]].add(r["chunk_id"])
    members = read_ledger(run, "SELECT chunk_id, article_id FROM chunk_articles")
    sent_rt = 0
    for m in members:
        got = by_article[m["article_id"]]
        if m["chunk_id"] in finished:
            assert got == {m["chunk_id"]}, "a batch result arrived: never sent again in real time"
        else:
            assert all(c.startswith("rt") for c in got), got
            sent_rt += 1
    assert stats["requests"]["models.generate_content"] == sent_rt
    after = run.chunks()
    cancelled = after[~after.index.isin(finished)]
    assert cancelled["remote_state"].str.endswith("CANCELLED").all(), "cancellation confirmed by batches.get"
    assert run.config.mode == "realtime"
    ev = run.events()
    assert ev[ev["kind"] == "transient_error"]["message"].str.contains("realtime handover").any()
    assert run.summary()["done"]
