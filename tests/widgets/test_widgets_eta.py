"""The run's ETA range and headline: honest bounds, frozen while paused, badges that say what happens."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pandas as pd
from gembatch_widgets import MonitorPanel

import gembatch as gb
from gembatch.presentation.summary_view import badge, badge_tone, eta_text, headline
from gembatch.runs.summarize import eta_range
from gembatch.runs.summary import RunSummary


def test_eta_range_widens_for_jobs_in_flight_and_stragglers():
    plain = eta_range(total=100, finished=50, first=0.0, now=100.0, turnarounds=[], flying=[])
    assert plain.eta_s == 100.0  # 50 left at 30 per minute
    assert plain.low_s < plain.eta_s < plain.high_s
    # the last job has run 200 s where jobs took 20–40 s: a straggler, and the range says so
    late = eta_range(total=100, finished=99, first=0.0, now=300.0, turnarounds=[20.0, 40.0], flying=[100.0])
    assert late.stragglers == 1
    assert late.high_s >= 100.0  # not the "2 s" throughput alone would promise
    none_yet = eta_range(total=10, finished=0, first=0.0, now=5.0, turnarounds=[], flying=[1.0])
    assert none_yet.eta_s is None
    assert none_yet.low_s is None


def _summary(**changes: Any) -> RunSummary:
    base: dict[str, Any] = {
        "run_id": "r", "model": "m", "tier": "tier1", "policy": "rolling", "mode": "batch",
        "state": "running", "done": False, "articles": 2000, "succeeded": 1996, "failed": 4, "pending": 0,
    }  # fmt: skip
    return RunSummary(**{**base, **changes})


def test_badges_say_what_happens_and_failures_are_never_green():
    done = _summary(state="done", done=True)
    assert badge(done) == "done · 4 failed"
    assert badge_tone(done) == "bad"
    assert badge_tone(_summary(state="done", done=True, failed=0, succeeded=2000)) == "ok"
    assert badge(_summary(state="budget", done=True)) == "budget reached · 4 failed"
    assert badge(_summary(state="paused", pending=10, succeeded=1986)) == "paused"
    stalled = _summary(pending=10, succeeded=1986, backoff_until=time.time() + 19,
                       last_error="submit_refused: 429 RESOURCE_EXHAUSTED")  # fmt: skip
    assert badge(stalled).startswith("backing off until ")
    assert badge(stalled).endswith(" — quota")
    assert badge_tone(stalled) == "warn"
    head = headline(done)
    assert head["done"] == "2,000 / 2,000 (100%)"
    assert head["failed"] == "4 failed"


def test_eta_is_frozen_while_paused_even_as_jobs_land(tmp_path: Path, articles: pd.DataFrame):
    from gembatch import emulator

    stack = contextlib.ExitStack()
    # slow, widely spread jobs: some finish long before others
    emu = stack.enter_context(
        emulator.running(speed=60.0, seed=2, profile={"base": "calm", "queue_sigma": 1.5})
    )
    plan = gb.plan(articles, model="gemini-2.5-flash-lite", chunk_tokens=1500)
    run = gb.Run.create(
        tmp_path / "run", articles, plan, client=emu.client(), poll_min_s=0.05, poll_max_s=0.1
    )
    with stack:
        stack.callback(run.stop)
        _pause_and_watch(run)


def _pause_and_watch(run: gb.Run) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until some articles are done and some jobs are still out
        run.step()
        s = run.summary()
        if s.finished and s.pending:
            break
        time.sleep(0.02)
    assert 0 < s.finished < s.articles, s
    run.pause()
    first = run.summary()
    assert first.state == "paused"
    assert first.eta_low_s is not None
    assert "(paused)" in (eta_text(first) or "")
    for _ in range(30):  # jobs in flight still land while paused
        run.step()
        time.sleep(0.05)
    later = run.summary()
    assert (later.eta_low_s, later.eta_high_s) == (first.eta_low_s, first.eta_high_s)
    assert later.elapsed_s is not None
    assert first.elapsed_s is not None
    assert later.elapsed_s > first.elapsed_s  # the clock goes on; the ETA does not
    panel = MonitorPanel(run, autostart=False, display="static")
    assert "(paused)" in panel.snapshot_html()
    run.resume()
    assert run.wait(timeout=120, progress=False)
    assert run.summary().eta_low_s is None  # done: no ETA, the elapsed total instead
