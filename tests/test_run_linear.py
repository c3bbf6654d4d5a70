"""The run loop's work stays linear: running tallies, results exported on a timer, inline output reused."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pandas as pd
import pytest
from runs_support import FAST, articles, make_plan, read_ledger, small_catalog

import gembatch as gb
from gembatch.emulator import running
from gembatch.runs.store import RunStore

pytestmark = pytest.mark.slow


def _step_to_done(run: gb.Run, results: Path) -> tuple[int, int]:
    """Step until done; (steps that collected something, times results.parquet changed)."""
    collecting, writes, seen = 0, 0, None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        report = run.step()
        collecting += report.collected > 0
        if results.exists():
            st = results.stat()
            now = (st.st_ino, st.st_mtime_ns, st.st_size)
            writes += now != seen
            seen = now
        if report.done:
            return collecting, writes
        time.sleep(0.02)
    raise AssertionError("the run did not finish in time")


def test_results_parquet_is_written_on_a_timer_and_at_the_end(tmp_path):
    cat = small_catalog(60_000)  # a small quota: the jobs finish over several steps
    arts = articles(300)
    plan = make_plan(arts, cat, policy="waves", chunk_tokens=20_000)
    assert len(plan.chunks) >= 3
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        collecting, writes = _step_to_done(run, tmp_path / "r" / "results.parquet")
    assert collecting >= 3, "the test needs several collecting steps"
    assert writes < collecting, "results.parquet is not rebuilt on every collecting step"
    on_disk = pd.read_parquet(tmp_path / "r" / "results.parquet")
    res = run.results()
    assert len(on_disk) == 300
    assert (on_disk["status"] == "succeeded").all()
    assert on_disk["output_text"].tolist() == res["output_text"].tolist(), "the final export is complete"


def test_inline_output_comes_from_the_listing_already_read(tmp_path):
    cat = small_catalog()
    arts = articles(200)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=120, progress=False)
        ops = emu.stats()["requests"]
    chunks = run.chunks()
    assert (chunks["source"] == "inline").all()
    assert len(chunks) >= 2
    assert (run.results()["status"] == "succeeded").all()
    assert ops.get("batches.get", 0) < len(chunks), f"inline output fetched again per job: {ops}"


def test_tallies_agree_with_sums_over_the_ledger(tmp_path):
    cat = small_catalog()
    arts = articles(150)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.wait(timeout=120, progress=False)
    store = run._ctx.store
    by_status = dict(read_ledger(run, "SELECT status, COUNT(*) FROM articles GROUP BY status"))  # type: ignore[arg-type]
    assert {k: v for k, v in store.counts().items() if v} == by_status
    total = read_ledger(run, "SELECT SUM(cost_usd), SUM(prompt_tokens), SUM(output_tokens) FROM results")[0]
    assert total[0] > 0
    assert store.spend()[0] == pytest.approx(total[0])
    assert store.usage_totals()[:2] == (total[1], total[2])


def _store_with_articles(path: Path) -> RunStore:
    store = RunStore(path)
    store.add_articles(
        {"article_id": a, "seq": i, "content_hash": a, "request_hash": a, "rep_id": a,
         "est_input_tokens": 10, "est_output_tokens": 5, "est_cost_usd": 0.001}
        for i, a in enumerate(("a", "b", "c"))
    )  # fmt: skip
    return store


def _result(aid: str, cost: float) -> tuple[object, ...]:
    return (aid, "c1", 1, "succeeded", "x", None, 10, 5, 0, cost, "STOP", None, time.time())


def test_a_result_written_again_replaces_its_tally_instead_of_adding(tmp_path):
    store = _store_with_articles(tmp_path / "ledger.sqlite")
    store.record_collection("c1", [_result("a", 0.5), _result("b", 0.25)], [("succeeded", 0, None, "a")])
    store.record_collection("c1", [_result("a", 0.5)], [("failed", 0, "x", "a")])  # collected again
    assert store.spend()[0] == pytest.approx(0.75)
    assert store.usage_totals() == (20, 10, 0)
    assert store.counts() == {"succeeded": 0, "failed": 1, "pending": 2}


def test_a_ledger_made_before_tallies_gets_them_filled_on_open(tmp_path):
    path = tmp_path / "ledger.sqlite"
    store = _store_with_articles(path)
    store.record_collection("c1", [_result("a", 0.5)], [("succeeded", 0, None, "a")])
    store.close()
    with sqlite3.connect(path) as db:  # what an older gembatch wrote: no tallies, no triggers
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'").fetchall():
            db.execute(f"DROP TRIGGER {name}")
        db.execute("DROP TABLE tallies")
    again = RunStore(path)
    assert again.counts() == {"succeeded": 1, "failed": 0, "pending": 2}
    assert again.spend()[0] == pytest.approx(0.5)
    again.record_collection("c1", [_result("b", 0.25)], [("succeeded", 0, None, "b")])
    assert again.counts()["succeeded"] == 2
    assert again.spend()[0] == pytest.approx(0.75)
