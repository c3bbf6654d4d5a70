"""The run store (ledger.sqlite): schema, WAL, the chunk life cycle, figures, named operations."""

from __future__ import annotations

import sqlite3

import pytest
from runs_support import read_ledger

from gembatch.runs.states import IllegalTransition, State, check_transition, from_remote
from gembatch.runs.store import SCHEMA_VERSION, LedgerError, RunStore, WorkLeft


def _ledger(tmp_path):
    led = RunStore(tmp_path / "ledger.sqlite")
    led.add_articles(
        {
            "article_id": f"a{i}",
            "seq": i,
            "content_hash": f"h{i}",
            "request_hash": f"r{i}",
            "rep_id": f"a{i}",
            "est_input_tokens": 100,
            "est_output_tokens": 10,
            "est_cost_usd": 0.01,
        }
        for i in range(4)
    )
    led.add_chunk(
        "c00001",
        attempt=1,
        wave=1,
        model="m",
        display_name="gembatch/r/c00001/1",
        article_ids=["a0", "a1", "a2", "a3"],
        est_input_tokens=400,
        est_output_tokens=40,
        est_cost_usd=0.04,
    )
    return led


def test_schema_is_versioned_and_wal(tmp_path):
    led = _ledger(tmp_path)
    assert led.get_meta("schema_version") == SCHEMA_VERSION
    mode = sqlite3.connect(tmp_path / "ledger.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_newer_schema_is_refused(tmp_path):
    led = _ledger(tmp_path)
    led.set_meta("schema_version", SCHEMA_VERSION + 1)
    led.close()
    with pytest.raises(LedgerError, match="newer gembatch"):
        RunStore(tmp_path / "ledger.sqlite")


def test_happy_path_transitions_and_figures(tmp_path):
    led = _ledger(tmp_path)
    assert led.in_flight() == (0, 0, 0.0)
    led.transition("c00001", State.SUBMITTING)
    assert led.in_flight()[:2] == (400, 1)
    led.transition("c00001", State.SUBMITTED, batch_name="batches/x")
    assert led.spend() == (0.0, pytest.approx(0.04))
    led.transition("c00001", State.SUCCEEDED)
    assert led.in_flight() == (0, 0, 0.0)
    led.transition("c00001", State.COLLECTED)
    assert led.chunk("c00001")["batch_name"] == "batches/x"
    assert led.chunk_article_ids("c00001") == ["a0", "a1", "a2", "a3"]
    assert led.counts() == {"succeeded": 0, "failed": 0, "pending": 4}


@pytest.mark.parametrize(
    ("old", "new"),
    [("planned", "submitted"), ("planned", "collected"), ("submitted", "planned"), ("collected", "planned")],
)
def test_illegal_transitions_raise(old, new):
    with pytest.raises(IllegalTransition, match=f"{old} -> {new}"):
        check_transition("c1", old, new)


def test_illegal_transition_leaves_ledger_untouched(tmp_path):
    led = _ledger(tmp_path)
    with pytest.raises(IllegalTransition):
        led.transition("c00001", State.SUBMITTED, batch_name="batches/x")
    row = led.chunk("c00001")
    assert (row["state"], row["batch_name"]) == ("planned", None)


def test_transaction_rolls_back_on_error(tmp_path):
    led = _ledger(tmp_path)

    def fail_midway():
        with led.transaction():
            led.transition("c00001", State.SUBMITTING)
            led.event("intent")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert led.chunk("c00001")["state"] == "planned"
    assert read_ledger(tmp_path, "SELECT COUNT(*) FROM events")[0][0] == 0


def test_events_carry_chart_figures(tmp_path):
    led = _ledger(tmp_path)
    led.transition("c00001", State.SUBMITTING)
    led.event("intent", "x", "c00001")
    row = read_ledger(tmp_path, "SELECT * FROM events")[0]
    assert (row["enqueued_tokens"], row["pending"], row["kind"]) == (400, 4, "intent")


@pytest.mark.parametrize(
    ("wire", "state"),
    [
        ("BATCH_STATE_SUCCEEDED", State.SUCCEEDED),
        ("JOB_STATE_EXPIRED", State.EXPIRED),
        ("BATCH_STATE_FAILED", State.FAILED),
        ("BATCH_STATE_CANCELLED", State.CANCELLED),
        ("BATCH_STATE_PENDING", None),
        ("BATCH_STATE_RUNNING", None),
        ("SOMETHING_NEW", None),
        ("", None),
    ],
)
def test_every_terminal_remote_state_is_terminal(wire, state):
    assert from_remote(wire) == state


def test_retry_chunks_pack_by_attempt_and_size(tmp_path):
    from gembatch.runs.collect import make_retry_chunks
    from gembatch.runs.context import Context, RunConfig

    led = _ledger(tmp_path)
    led.transition("c00001", State.CANCELLED)
    led.transition("c00001", State.COLLECTED)
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:  # as if collected: re-queued, a3 tried twice
        db.execute("UPDATE articles SET requeue=1")
        db.execute("UPDATE articles SET attempts=2 WHERE article_id='a3'")
    cfg = RunConfig(run_id="r-1", model="m", tier="tier1", spec={}, model_info={}, chunk_tokens=250)
    ctx = Context(run_dir=tmp_path, store=led, _transport=None, config=cfg)
    assert make_retry_chunks(ctx, flush=False) == ["r2-00001"]  # a0+a1 fill a chunk; a2 waits
    assert make_retry_chunks(ctx, flush=True) == ["r2-00002", "r3-00001"]
    assert led.chunk_article_ids("r2-00001") == ["a0", "a1"]
    assert led.chunk_article_ids("r3-00001") == ["a3"]
    row = led.chunk("r3-00001")
    assert (row["attempt"], row["display_name"], row["state"]) == (3, "gembatch/r-1/r3-00001/3", "planned")
    assert read_ledger(tmp_path, "SELECT COUNT(*) FROM articles WHERE requeue=1")[0][0] == 0


def test_work_left_and_the_done_rule(tmp_path):
    from gembatch.runs.outcomes import finish, is_done

    led = _ledger(tmp_path)
    assert led.work_left() == WorkLeft(busy_chunks=1, in_flight=0, requeued=0)  # planned, sendable
    assert not is_done(led.work_left(), cancelled=False)
    led.update_chunk("c00001", blocked="budget")
    assert led.work_left().busy_chunks == 0  # held back by the budget: nothing more will happen
    assert is_done(led.work_left(), cancelled=False)
    assert finish(led) == "budget"  # articles are left pending
    assert finish(led) == "budget"  # recorded once
    assert read_ledger(tmp_path, "SELECT COUNT(*) FROM events WHERE kind='done'")[0][0] == 1
    led.unblock_budget()
    led.transition("c00001", State.SUBMITTING)
    assert led.work_left() == WorkLeft(busy_chunks=1, in_flight=1, requeued=0)
    assert not is_done(led.work_left(), cancelled=True)  # a job may still exist remotely


def test_requeue_failed_reopens_failed_articles(tmp_path):
    led = _ledger(tmp_path)
    led.record_collection(
        "c00001",
        [("a0", "c00001", 1, "failed", None, None, 0, 0, 0, 0.0, None, "400 bad", 1.0)],
        [("failed", 0, "400 bad", "a0"), ("succeeded", 0, None, "a1")],
    )
    assert led.counts() == {"succeeded": 1, "failed": 1, "pending": 2}
    assert led.failure_reasons() == {"400 bad": 1}
    assert led.requeue_failed() == (1, 1)
    assert led.counts() == {"succeeded": 1, "failed": 0, "pending": 3}
    assert [r["article_id"] for r in led.requeued_articles()] == ["a0"]
