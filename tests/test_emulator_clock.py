"""Emulated time does not depend on the CPU: the same seed gives the same job timeline, busy or idle.

A job's end, its output's availability and a 429's retry hint are all read from the emulated clock;
writing the output (real CPU work) never moves them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import gembatch as gb
from gembatch.emulator import running
from gembatch.emulator._clock import Clock
from gembatch.transport.gemini import classify
from tests.runs_support import FAST, MODEL, articles, make_plan, small_catalog

PROFILE = {"queue_median_s": 300.0, "queue_sigma": 1.2, "overhead_s": 60.0, "tokens_per_s": 2_000.0}
DT = 45.0


@contextmanager
def busy_cpu(n: int) -> Iterator[None]:
    """``n`` processes spinning on the CPU for the duration of the block (stopped by their pid)."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait()


def timeline(seed: int) -> dict[str, Any]:
    """Run one seeded workload on a manual clock; the emulated figures a benchmark would read."""
    arts = articles(80, mean_chars=3000, seed=3)
    cat = small_catalog(300_000)
    plan = make_plan(arts, cat, chunk_tokens=8_000)
    with (
        running(speed=0, catalog=cat, profile=PROFILE, seed=seed) as emu,
        tempfile.TemporaryDirectory() as tmp,
    ):
        run = gb.Run.create(  # jobs kept, no cache: every run submits
            Path(tmp) / "r", arts, plan, client=emu.client(), delete_collected_jobs=False, cache=False, **FAST
        )
        steps = 0
        while not run.step().done:
            emu.advance(DT)
            steps += 1
            assert steps < 5_000
        listed = list(emu.client().batches.list(config={"page_size": 100}))
        stats = emu.stats()
    t0 = min(j.create_time.timestamp() for j in listed if j.create_time)
    jobs = sorted(  # chunk and attempt (the run id differs), times from the first create, state
        (
            str(j.display_name).split("/", 2)[2],
            j.create_time.timestamp() - t0 if j.create_time else None,
            j.end_time.timestamp() - t0 if j.end_time else None,
            str(j.state),
        )
        for j in listed
    )
    model_line = [e[::2] for e in stats["enqueued_timeline"] if e[1].removeprefix("models/") == MODEL]
    return {
        "makespan": model_line[-1][0] - model_line[0][0],
        "enqueued": [(when - model_line[0][0], tokens) for when, tokens in model_line],
        "jobs": jobs,
        "steps": steps,
        "ok": run.summary()["succeeded"],
    }


def test_same_seed_same_emulated_timeline_on_a_busy_cpu() -> None:
    idle = timeline(seed=21)
    with busy_cpu(2 * (os.cpu_count() or 1)):
        busy = timeline(seed=21)
    assert idle["ok"] == busy["ok"] == 80
    assert idle["makespan"] > 0
    assert busy["makespan"] == idle["makespan"]
    assert busy["enqueued"] == idle["enqueued"]
    assert busy["jobs"] == idle["jobs"]
    assert busy["steps"] == idle["steps"]
    other = timeline(seed=22)  # the figures follow the seed, so the comparison above can fail
    assert other["enqueued"] != idle["enqueued"]


def test_retry_hint_scales_with_speed() -> None:
    cat = small_catalog(20_000)
    with running(speed=1_000, catalog=cat, profile=PROFILE, seed=1) as emu:
        client = emu.client()
        line = {"contents": [{"role": "user", "parts": [{"text": "word " * 12_000}]}]}
        client.batches.create(model="gemini-2.5-flash-lite", src=[line])
        with pytest.raises(Exception, match="RESOURCE_EXHAUSTED") as err:
            client.batches.create(model="gemini-2.5-flash-lite", src=[line])
    failure = classify(err.value)
    assert failure.code == 429
    # the job holding the quota ends minutes of emulated time from now: under a second at speed 1000
    assert failure.retry_after_s is not None
    assert 0 < failure.retry_after_s < 1.0


def test_manual_clock_moves_only_when_advanced() -> None:
    clock = Clock(speed=0, anchor_real=0.0, anchor_emulated=1_000.0)
    assert clock.now() == 1_000.0
    assert clock.advance(30) == 1_030.0
    assert clock.real_seconds(60) == 0.0
    with pytest.raises(ValueError, match="speed"):
        Clock(speed=-1)
