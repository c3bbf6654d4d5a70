"""Cleanup of what a run leaves at the service: failed deletes retried with back-off, Run.cleanup
(dry run and real), what is still needed kept, the REST endpoint, and leftovers in the summary.

Everything runs against the in-process emulator through the official SDK; what the service holds
is read back from its listings, never from the run's own state.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from runs_support import articles, read_ledger

import gembatch as gb
from gembatch.presentation.summary_view import summary_text
from gembatch.runs.summary import RunSummary
from gembatch.server import create_app

MODEL = "gemini-2.5-flash-lite"
FAST = {"poll_min_s": 0.02, "poll_max_s": 0.1, "backoff_base_s": 0.05, "backoff_max_s": 0.2}


def _held(emu: Any, run_id: str) -> tuple[list[str], list[str]]:
    """The run's files and jobs the emulator lists (by the run's display-name prefix)."""
    sdk = emu.client()
    prefix = f"gembatch/{run_id}/"
    files = sorted(str(f.name) for f in sdk.files.list() if (f.display_name or "").startswith(prefix))
    jobs = sorted(str(j.name) for j in sdk.batches.list() if (j.display_name or "").startswith(prefix))
    return files, jobs


def _all_files(emu: Any) -> set[str]:
    return {str(f.name) for f in emu.client().files.list()}


def _create(emu: Any, run_dir: Any, n: int = 12, **knobs: Any) -> gb.Run:
    arts = articles(n, mean_chars=500, seed=4)
    plan = gb.plan(arts, MODEL, chunk_tokens=600)
    return gb.Run.create(run_dir, arts, plan, client=emu.client(), inline_limit_bytes=0, **{**FAST, **knobs})


def test_failed_deletes_are_retried_with_back_off_until_nothing_is_left(tmp_path):
    with gb.emulator.running(speed=20_000) as emu:
        run = _create(emu, tmp_path / "run")
        emu.inject_fault("batches.delete", status=503, count=4)
        emu.inject_fault("files.delete", status=503, count=4)
        assert run.wait(timeout=60, progress=False)
        deadline = time.monotonic() + 30
        while run.summary().leftovers and time.monotonic() < deadline:
            run.step()  # a resumed driver settles what is owed
            time.sleep(0.05)
        assert run.summary().leftovers == 0
        assert _held(emu, run.run_id) == ([], [])
        outputs = {
            r[0] for r in read_ledger(run, "SELECT output_file FROM chunks WHERE output_file IS NOT NULL")
        }
        assert outputs
        assert not outputs & _all_files(emu)
    events = run.events()
    failed = events[events["kind"] == "cleanup_failed"]
    assert len(failed) >= 4, "the injected refusals were recorded, not swallowed"
    assert failed["message"].str.contains("503").all()
    tries = read_ledger(run, "SELECT MAX(tries) FROM cleanup")[0][0]
    assert tries >= 1


def test_a_dropped_delete_answer_is_settled_on_the_next_try(tmp_path):
    """The service deleted the job but the answer was lost: the retry finds it gone and is done."""
    with gb.emulator.running(speed=20_000) as emu:
        run = _create(emu, tmp_path / "run", n=6)
        emu.inject_fault("batches.delete", drop_response="503")
        assert run.wait(timeout=60, progress=False)
        deadline = time.monotonic() + 30
        while run.summary().leftovers and time.monotonic() < deadline:
            run.step()
            time.sleep(0.05)
        assert run.summary().leftovers == 0
        assert _held(emu, run.run_id) == ([], [])


def test_dry_run_lists_and_cleanup_deletes_what_the_settings_kept(tmp_path):
    with gb.emulator.running(speed=20_000) as emu:
        run = _create(emu, tmp_path / "run", delete_collected_jobs=False)
        assert run.wait(timeout=60, progress=False)
        _, jobs = _held(emu, run.run_id)
        assert len(jobs) == len(run.chunks()), "delete_collected_jobs=False keeps the jobs"

        dry = run.cleanup(dry_run=True)
        assert sorted(i.name for i in dry.deleted) == jobs
        assert {i.action for i in dry.items} == {"would delete"}
        assert _held(emu, run.run_id)[1] == jobs, "a dry run deletes nothing"

        report = run.cleanup()
        assert sorted(i.name for i in report.deleted) == jobs
        assert report.failed == []
        assert _held(emu, run.run_id) == ([], [])
        assert run.cleanup(dry_run=True).items == (), "nothing is left to list"
        as_dict = report.to_dict()
        assert as_dict["run_id"] == run.run_id
        assert len(as_dict["deleted"]) == len(jobs)


def test_cleanup_keeps_what_a_run_in_flight_still_needs(tmp_path):
    with gb.emulator.running(speed=1) as emu:  # jobs stay pending until the clock is advanced
        run = _create(emu, tmp_path / "run", n=6)
        run.step()
        _, jobs = _held(emu, run.run_id)
        assert jobs, "jobs were submitted"
        report = run.cleanup()
        assert report.deleted == []
        kept_jobs = [i for i in report.kept if i.kind == "job"]
        assert sorted(i.name for i in kept_jobs) == jobs
        assert all("not yet collected" in i.reason for i in kept_jobs)
        assert {i.kind for i in report.kept} <= {"job", "file"}  # inputs wait for the next poll
        assert _held(emu, run.run_id)[1] == jobs, "jobs in flight are never deleted"
        emu.advance(4 * 3600)
        assert run.wait(timeout=60, progress=False)
        assert run.summary().succeeded == 6
        assert _held(emu, run.run_id) == ([], [])


def test_an_orphan_under_the_run_prefix_is_deleted_but_other_files_are_not(tmp_path):
    """A file uploaded under the run's prefix that no chunk knows (a crash between upload and
    record) is deleted; a file of someone else, with another display name, is left alone."""
    with gb.emulator.running(speed=20_000) as emu:
        run = _create(emu, tmp_path / "run", n=6)
        assert run.wait(timeout=60, progress=False)
        sdk = emu.client()
        path = tmp_path / "x.jsonl"
        path.write_text('{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n')
        cfg = {"mime_type": "application/jsonl"}
        orphan = sdk.files.upload(
            file=path, config={**cfg, "display_name": f"gembatch/{run.run_id}/c00001/1"}
        )
        other = sdk.files.upload(file=path, config={**cfg, "display_name": "someone-else/c00001/1"})
        report = run.cleanup()
        assert [i.name for i in report.deleted] == [orphan.name]
        assert "no longer needed" in report.deleted[0].reason
        names = _all_files(emu)
        assert orphan.name not in names
        assert other.name in names


def test_rest_cleanup_endpoint(tmp_path):
    token = "cleanup-token"
    auth = {"Authorization": f"Bearer {token}"}
    with gb.emulator.running(speed=20_000) as emu:
        app = create_app(tmp_path / "runs", token=token, client_factory=emu.client)
        with TestClient(app) as api:
            created = api.post("/v1/runs", headers=auth, json={"run_id": "c1", "articles": ["one", "two"]})
            assert created.status_code == 201, created.text
            deadline = time.monotonic() + 60
            while not api.get("/v1/runs/c1", headers=auth).json()["summary"]["done"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            run_id = api.get("/v1/runs/c1", headers=auth).json()["summary"]["run_id"]
            path = tmp_path / "x.jsonl"
            path.write_text('{"key": "a", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n')
            orphan = emu.client().files.upload(
                file=path,
                config={"mime_type": "application/jsonl", "display_name": f"gembatch/{run_id}/c9/1"},
            )
            dry = api.post("/v1/runs/c1/cleanup?dry_run=true", headers=auth)
            assert dry.status_code == 200, dry.text
            assert [i["name"] for i in dry.json()["cleanup"]["deleted"]] == [orphan.name]
            assert orphan.name in _all_files(emu)
            real = api.post("/v1/runs/c1/cleanup", headers=auth)
            assert real.status_code == 200, real.text
            assert [i["name"] for i in real.json()["cleanup"]["deleted"]] == [orphan.name]
            assert orphan.name not in _all_files(emu)
            assert api.get("/v1/runs/c1", headers=auth).json()["summary"]["leftovers"] == 0


@pytest.mark.parametrize("left", [0, 3])
def test_summary_shows_leftovers_only_when_some_remain(left):
    s = RunSummary(run_id="r", model="m", tier="tier1", policy="rolling", mode="batch", state="done",
                   done=True, articles=2, succeeded=2, failed=0, pending=0, leftovers=left)  # fmt: skip
    text = summary_text(s, "runs/r")
    assert ("left at the service: 3 files or jobs" in text) is bool(left)
    assert s.to_dict()["leftovers"] == left
