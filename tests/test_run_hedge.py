"""Hedging stragglers on the emulator: cancelled and sent again, never costing an attempt, never billed twice.

The emulator runs on a manual clock (speed 0) advanced by the test, with heavy-tailed queue times,
so some jobs straggle far past the hedge threshold while their siblings finish.
"""

from __future__ import annotations

from typing import Any

import pytest

import gembatch as gb
from gembatch.emulator import running
from gembatch.runs.outcomes import ATTEMPT_FREE_CANCELS, article_outcome, attempt_free
from gembatch.runs.poll import cancel_job
from tests.runs_support import FAST, articles, make_plan, read_ledger, small_catalog

STRAGGLY = {
    "queue_median_s": 120.0,
    "queue_sigma": 2.0,  # one job in five waits over 10 min, one in twenty over an hour
    "overhead_s": 30.0,
}
DT = 60.0  # emulated seconds per step


def _drive(run: gb.Run, emu: Any, limit: int = 5_000) -> int:
    steps = 0
    while not run.step().done:
        emu.advance(DT)
        steps += 1
        assert steps < limit, "run did not finish"
    return steps


def test_withdrawn_is_the_attempt_free_outcome() -> None:
    assert attempt_free("hedge")
    assert "hedge" in ATTEMPT_FREE_CANCELS
    assert not attempt_free("user")
    assert attempt_free("watchdog"), "a stale job sent again by the watchdog keeps its attempt"
    assert not attempt_free("stale"), "once its free copies are used up, a stale cancel counts"
    assert not attempt_free(None)
    out = article_outcome("withdrawn", "cancelled: hedge", 3, 3)  # even on the last attempt
    assert (out.status, out.requeue, out.refund) == ("pending", True, True)
    last = article_outcome("retryable", "job CANCELLED", 3, 3)
    assert last.status == "failed"
    assert not last.refund


def test_hedged_stragglers_cost_no_attempt_and_bill_once(tmp_path: Any) -> None:
    arts = articles(60, seed=4)
    cat = small_catalog(400_000)
    plan = make_plan(arts, cat, chunk_tokens=1_500)
    assert len(plan.chunks) >= 10
    with running(speed=0, catalog=cat, profile=STRAGGLY, seed=5) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), max_attempts=1, **FAST)
        _drive(run, emu)
        stats = emu.stats()
    hedged = read_ledger(run, "SELECT chunk_id, state, cost_usd FROM chunks WHERE cancel_reason='hedge'")
    cancelled = [r for r in hedged if r["cost_usd"] == 0]
    assert cancelled, "the straggly profile made no job straggle past the hedge threshold"
    copies = read_ledger(run, "SELECT chunk_id, attempt FROM chunks WHERE chunk_id LIKE '%h%'")
    assert copies
    assert all(r["attempt"] == 1 for r in copies), "a hedged copy keeps the attempt number"
    # max_attempts=1: had a hedge cost an attempt, its articles would have failed instead of succeeding
    arts_rows = read_ledger(run, "SELECT status, attempts FROM articles")
    assert {r["status"] for r in arts_rows} == {"succeeded"}
    assert {r["attempts"] for r in arts_rows} == {1}
    # billed once: one result row per article, from one job, and no cost on a cancelled job
    billed = read_ledger(run, "SELECT article_id, COUNT(*) n, SUM(cost_usd > 0) paid FROM results GROUP BY 1")
    assert len(billed) == len(arts)
    assert {(r["n"], r["paid"]) for r in billed} == {(1, 1)}
    per_chunk = read_ledger(run, "SELECT SUM(cost_usd) c FROM chunks")[0]["c"]
    per_result = read_ledger(run, "SELECT SUM(cost_usd) c FROM results")[0]["c"]
    assert per_chunk == pytest.approx(per_result)
    kinds = [r["kind"] for r in read_ledger(run, "SELECT kind FROM events")]
    assert kinds.count("hedge_cancel") == len(cancelled)
    assert kinds.count("hedged") == len(cancelled)
    created = stats["batches_created_by_display_name"]
    assert all(v == 1 for k, v in created.items() if run.run_id in k), "no display name sent twice"


def test_a_job_that_finished_before_the_hedge_cancel_is_collected_once(tmp_path: Any) -> None:
    arts = articles(12, seed=2)
    cat = small_catalog(400_000)
    plan = make_plan(arts, cat, chunk_tokens=4_000)
    with running(speed=0, catalog=cat, profile="calm", seed=1) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        run.step()  # submit everything
        emu.advance(6 * 3600)  # every job has finished at the service; the ledger does not know yet
        ctx = run._ctx  # the cancel a hedge sends, reaching jobs that already finished
        for row in read_ledger(run, "SELECT chunk_id, batch_name FROM chunks WHERE state='submitted'"):
            cancel_job(ctx, row["chunk_id"], row["batch_name"], "hedge")
        _drive(run, emu)
    rows = read_ledger(run, "SELECT chunk_id, state, succeeded FROM chunks")
    assert not [r for r in rows if "h" in r["chunk_id"]], "nothing is sent again"
    assert sum(r["succeeded"] for r in rows) == len(arts)
    billed = read_ledger(run, "SELECT COUNT(*) n FROM results GROUP BY article_id")
    assert {r["n"] for r in billed} == {1}


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.2, "0.6", True])
def test_a_bad_hedge_quantile_is_refused_before_anything_is_sent(tmp_path: Any, bad: Any) -> None:
    arts = articles(5, seed=1)
    cat = small_catalog(400_000)
    plan = make_plan(arts, cat)
    with pytest.raises(gb.InputError, match="hedge_quantile"):
        gb.Run.create(tmp_path / "r", arts, plan, client=object(), hedge_quantile=bad)
    assert not (tmp_path / "r").exists()
