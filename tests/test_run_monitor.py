"""Monitoring: a job missing from a listing is asked for by name; the stale-job watchdog; pause."""

from __future__ import annotations

import pytest
from runs_support import FAST, MODEL, articles, assert_no_duplicate_jobs, make_plan, small_catalog

import gembatch as gb
from gembatch.emulator import running
from gembatch.runs.config import RunConfig
from gembatch.runs.hedge import MAX_HEDGES
from gembatch.runs.poll import Sweep, poll

pytestmark = pytest.mark.slow


def test_job_missing_from_listing_is_confirmed_with_get(tmp_path):
    cat = small_catalog()
    arts = articles(40)
    plan = make_plan(arts, cat)
    with running(speed=1, catalog=cat) as emu:  # jobs stay pending
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        run.step()
        submitted = run.chunks().query("state == 'submitted'")
        assert len(submitted) > 0
        gets = emu.stats()["requests"].get("batches.get", 0)
        assert poll(run._ctx, Sweep()) == 0  # an empty listing proves nothing
        assert emu.stats()["requests"].get("batches.get", 0) - gets == len(submitted)
        assert (run.chunks().loc[submitted.index, "state"] == "submitted").all()
        run.cancel()
        assert run.wait(timeout=60, progress=False)


def test_the_watchdog_is_on_by_default() -> None:
    config = RunConfig(run_id="r", model=MODEL, tier="tier1", spec={}, model_info={})
    assert config.pending_limit_s == 86_400.0
    assert config.cancel_stale is True


def test_watchdog_only_reports_stale_jobs_when_cancel_stale_is_off(tmp_path):
    cat = small_catalog()
    arts = articles(40)
    plan = make_plan(arts, cat)
    with running(speed=1, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), pending_limit_s=0.0,
                            cancel_stale=False, **FAST)  # fmt: skip
        run.step()
        run.step()
        ev = run.events()
        assert (ev["kind"] == "stale").sum() == len(run.chunks())
        assert not (ev["kind"] == "watchdog_cancel").any()
        run.step()
        assert (run.events()["kind"] == "stale").sum() == len(run.chunks()), "reported once per job"
        run.cancel()
        assert run.wait(timeout=60, progress=False)


def test_watchdog_cancels_confirms_and_requeues(tmp_path):
    cat = small_catalog()
    arts = articles(40)
    plan = make_plan(arts, cat)
    with running(speed=1, catalog=cat) as emu:
        run = gb.Run.create(
            tmp_path / "r",
            arts,
            plan,
            client=emu.client(),
            max_attempts=2,
            pending_limit_s=0.0,
            cancel_stale=True,
            **FAST,
        )
        assert run.wait(timeout=60, progress=False)
        stats = emu.stats()
    assert_no_duplicate_jobs(stats, run.run_id)
    chunks = run.chunks()
    # a stale job is sent again under the same attempt MAX_HEDGES times; only the next cancel counts
    copies = chunks.index.str.contains("h")
    assert copies.any(), "stale jobs were sent again as copies"
    assert set(chunks.loc[copies, "attempt"]) == {1, 2}
    first = chunks[chunks["attempt"] == 1]
    assert first.index.str.contains("h").sum() == len(plan.chunks) * MAX_HEDGES
    assert set(chunks["attempt"]) == {1, 2}, "once the free copies are used up, a cancel takes an attempt"
    res = run.results()
    assert (res["status"] == "failed").all()
    assert res["error"].str.contains("gave up after 2 attempts: job cancelled").all()
    assert (run.events()["kind"] == "watchdog_cancel").sum() == len(chunks)


def test_pause_stops_submission_until_resume(tmp_path):
    cat = small_catalog()
    arts = articles(60)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        run.pause()
        run.step()
        assert run.summary()["state"] == "paused"
        assert (run.chunks()["state"] == "planned").all()
        run.resume()
        assert run.wait(timeout=60, progress=False)
        files = list(emu.client().files.list())
    assert (run.results()["status"] == "succeeded").all()
    assert not [f for f in files if run.run_id in (f.display_name or "")], "input files were left behind"


def test_only_one_driver_at_a_time(tmp_path):
    from gembatch.runs.lock import driver_lock

    cat = small_catalog()
    arts = articles(20)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        with driver_lock(tmp_path / "r") as held:
            assert held
            report = run.step()  # someone else is driving: this step does nothing
            assert (report.submitted, report.done) == (0, False)
            assert (run.chunks()["state"] == "planned").all()
        assert run.wait(timeout=60, progress=False)
