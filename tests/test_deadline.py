"""The deadline policy: the pure rule, parsing, and a stuck queue finished through real time (emulator)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from runs_support import FAST, MODEL, articles, make_plan, small_catalog

import gembatch as gb
from gembatch.emulator import running
from gembatch.runs.deadline import JobView, Outlook, decide, parse_deadline, remaining_s

OUTLOOK = Outlook(p50_s=600.0, p90_s=3_000.0, rate=1.0, rpm=60.0, tpm=1_000_000.0)


def _job(cid: str, age: float | None, n: int = 10, usd: float = 0.01) -> JobView:
    return JobView(cid, n, n * 1_000, age, usd)


def test_parse_deadline_takes_durations_clock_times_and_iso_times() -> None:
    now = dt.datetime(2026, 12, 1, 14, 0).timestamp()
    assert parse_deadline("90m", now) == now + 5_400
    assert parse_deadline("1h30m", now) == now + 5_400
    assert parse_deadline(120, now) == now + 120
    assert parse_deadline("16:00", now) == dt.datetime(2026, 12, 1, 16, 0).timestamp()
    assert parse_deadline("13:00", now) == dt.datetime(2026, 12, 2, 13, 0).timestamp(), "the next 13:00"
    assert parse_deadline("2026-12-01T15:30", now) == dt.datetime(2026, 12, 1, 15, 30).timestamp()
    assert parse_deadline("", now) is None
    for bad in ("soon", "25:00", "2h later"):
        with pytest.raises(gb.InputError, match="deadline must be a time"):
            parse_deadline(bad, now)
    with pytest.raises(gb.InputError, match="already past"):
        parse_deadline("2026-12-01T13:00", now)


def test_jobs_that_can_still_finish_by_batch_stay() -> None:
    jobs = [_job("a", 0.0), _job("b", 100.0)]
    assert decide(0.0, 10 * 3_600.0, jobs, OUTLOOK).switch == ()


def test_a_straggler_is_switched_once_waiting_longer_would_miss_the_deadline() -> None:
    young, old = _job("young", 60.0), _job("old", 5_000.0)  # old: past the p90, a median more expected
    deadline = 4_000.0
    assert remaining_s(old, OUTLOOK) == 600.0
    assert remaining_s(young, OUTLOOK) == 2_940.0
    early = decide(0.0, deadline, [young, old], OUTLOOK)
    assert early.switch == (), "an hour left: both can still finish by batch"
    late = decide(1_500.0, deadline, [young, old], OUTLOOK)
    assert late.switch == ("young",), "the young job's p90 end leaves no room; the old one's median does"
    assert late.realtime_s == pytest.approx(10.0)  # 10 articles at 60 RPM
    last = decide(3_400.0, deadline, [young, old], OUTLOOK)  # 600 s to go: a median no longer fits
    assert set(last.switch) == {"young", "old"}


def test_a_deadline_batch_cannot_meet_switches_everything_at_once_within_the_cost_bound() -> None:
    jobs = [_job("a", None, usd=0.5), _job("b", 0.0, usd=0.5), _job("c", 0.0, usd=0.5)]
    everything = decide(0.0, 600.0, jobs, OUTLOOK)
    assert set(everything.switch) == {"a", "b", "c"}
    assert everything.realtime_usd == pytest.approx(1.5)
    bounded = decide(0.0, 600.0, jobs, OUTLOOK, max_usd=1.0)
    assert len(bounded.switch) == 2
    assert len(bounded.unaffordable) == 1
    assert bounded.realtime_usd <= 1.0


def test_the_emulators_fast_clock_shortens_the_expected_wait() -> None:
    job = _job("a", 0.0)
    assert decide(0.0, 600.0, [job], OUTLOOK).switch == ("a",)
    fast = Outlook(p50_s=600.0, p90_s=3_000.0, rate=600.0, rpm=60.0, tpm=1_000_000.0)
    assert decide(0.0, 600.0, [job], fast).switch == (), "5 wall seconds to the p90 end"


@pytest.mark.slow
def test_a_stuck_queue_finishes_before_the_deadline_through_real_time(tmp_path: Path) -> None:
    cat = small_catalog()
    arts = articles(30)
    plan = make_plan(arts, cat, chunk_tokens=4_000)
    stuck = {"queue_median_s": 3 * 86_400.0, "queue_sigma": 0.0, "rate_window_s": 1.0}  # PENDING for days
    with running(speed=60, catalog=cat, profile=stuck) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), max_attempts=2,
                            pending_limit_s=1.0, cancel_stale=True, **FAST)  # fmt: skip
        assert not run.wait(timeout=2.5, progress=False), "nothing finishes in a stuck queue"
        events = run.events()
        assert (events["kind"] == "watchdog_cancel").sum() >= 1, "the watchdog cancelled stale jobs"
        assert (run.chunks()["attempt"] == 1).all(), "watchdog cancels took no attempt"
        deadline = time.time() + 30
        assert run.set_deadline(dt.datetime.fromtimestamp(deadline)) == pytest.approx(deadline)
        assert run.wait(timeout=60, progress=False)
        finished = time.time()
        stats = emu.stats()
    assert finished < deadline, "every article was settled before the deadline"
    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert (res["attempt"] == 1).all(), "no attempt was spent on cancelled jobs"
    assert res["chunk_id"].str.startswith("rt").all(), "answered through real time"
    assert stats["requests"]["models.generate_content"] == 30, "one real-time request per article"
    chunks = run.chunks()
    assert (chunks["cost_usd"].fillna(0) == 0).all(), "no batch job was billed"
    assert float(res["cost_usd"].sum()) == pytest.approx(run.summary().cost_actual_usd)
    kinds = run.events()["kind"]
    assert (kinds == "deadline_switch").sum() >= 1
    message = run.events().loc[kinds == "deadline_switch", "message"].iloc[0]
    assert "stuck jobs to real time at" in message
    assert "deadline" in message
    s = run.summary()
    assert s.deadline_at == pytest.approx(deadline)
    assert "deadline" in repr(run)
    assert MODEL in s.model
