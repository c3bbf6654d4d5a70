"""The engine's seams: configuration re-read by a live driver, drivers by mode, transports, the panel hook."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, BinaryIO

import pytest
from runs_support import FAST, articles, make_plan, small_catalog

import gembatch as gb
from gembatch.emulator import running
from gembatch.errors import GembatchError, InputError
from gembatch.runs import run as run_module
from gembatch.runs.config import RunConfig
from gembatch.runs.context import Context
from gembatch.runs.drivers import driver_for, modes
from gembatch.runs.outcomes import article_outcome
from gembatch.runs.setup import new_ledger
from gembatch.runs.submit import reconcile, submit_chunk
from gembatch.transport.base import Failure, JobState, JobStatus, Timings
from gembatch.transport.connect import as_transport, local_emulator


def test_set_budget_from_another_run_object_reaches_the_live_driver(tmp_path):
    cat = small_catalog()
    arts = articles(400)
    plan = make_plan(arts, cat, chunk_tokens=5_000)
    with running(speed=20_000, catalog=cat) as emu:
        driving = gb.Run.create(
            tmp_path / "r", arts, plan, client=emu.client(), budget_usd=plan.est_cost_usd * 0.4, **FAST
        )
        driving.step()  # submits what the budget allows; the rest is held back
        assert (driving.chunks()["blocked"] == "budget").any()
        other = gb.Run.open(tmp_path / "r", client=emu.client())  # e.g. another process
        other.set_budget(None)
        assert driving.wait(timeout=120, progress=False)  # the same object, still driving
        assert driving.config.budget_usd is None
    s = driving.summary()
    assert s.state == "done"
    assert s.succeeded == len(arts)


def test_pause_from_another_run_object_stops_submission(tmp_path):
    cat = small_catalog()
    arts = articles(100)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        driving = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        gb.Run.open(tmp_path / "r").pause()  # no client needed to change a run's settings
        report = driving.step()
        assert report.submitted == 0
        assert driving.summary().state == "paused"
        gb.Run.open(tmp_path / "r").resume()
        assert driving.step().submitted > 0
        driving.cancel()
        assert driving.wait(timeout=60, progress=False)


def test_a_transport_object_is_accepted_and_its_timings_apply(tmp_path):
    cat = small_catalog()
    arts = articles(40)
    plan = make_plan(arts, cat)
    with running(speed=20_000, catalog=cat) as emu:
        transport = as_transport(emu.client())
        assert transport.name == "emulator"
        run = gb.Run.create(tmp_path / "r", arts, plan, client=transport, backoff_base_s=0.02)
        assert run.transport is transport
        assert run.config.poll_max_s == transport.timings.poll_max_s < 5  # from the backend
        assert gb.describe(run.client).startswith("Gemini emulator at")
        assert run.wait(timeout=60, progress=False)
    assert (run.results()["status"] == "succeeded").all()


def test_drivers_are_chosen_by_mode():
    assert modes() == ["batch", "realtime"]
    assert driver_for("batch").mode == "batch"
    assert driver_for("realtime").mode == "realtime"
    with pytest.raises(InputError, match="'batch', 'realtime'"):
        driver_for("carrier-pigeon")


def test_one_article_rule():
    assert article_outcome("succeeded", None, 1, 3).as_row() == ("succeeded", 0, None)
    assert article_outcome("retryable", "503", 2, 3).as_row() == ("pending", 1, "503")
    gave_up = article_outcome("retryable", "503", 3, 3)
    assert gave_up.as_row() == ("failed", 0, "gave up after 3 attempts: 503")
    assert article_outcome("failed", "400 bad", 1, 3).as_row() == ("failed", 0, "400 bad")


def test_monitor_panel_comes_from_an_entry_point(tmp_path, monkeypatch):
    cat = small_catalog()
    arts = articles(20)
    plan = make_plan(arts, cat)
    run = gb.Run.create(tmp_path / "r", arts, plan, client=local_emulator(), **FAST)
    panel = run.monitor(display="static")
    try:
        assert type(panel).__name__ == "MonitorPanel"
        assert panel.run is run
    finally:
        panel.close()
    monkeypatch.setattr(run_module, "entry_points", lambda **_: ())
    with pytest.raises(GembatchError, match="gembatch-widgets"):
        run.monitor()


class _LostResponses:
    """A tiny in-process backend: every create is accepted, but its answer is lost (a 503)."""

    name = "fake"
    timings = Timings()
    emulated = True

    def __init__(self) -> None:
        self.jobs: dict[str, JobStatus] = {}
        self.gets: list[str] = []

    def describe(self) -> str:
        return "fake backend"

    def create(
        self,
        model: str,
        display_name: str,
        *,
        file_name: str | None = None,
        requests: Sequence[Mapping[str, Any]] | None = None,
    ) -> JobStatus:
        name = f"batches/{len(self.jobs)}"
        self.jobs[name] = JobStatus(name, display_name, JobState.PENDING)
        raise ConnectionResetError("response lost")

    def get(self, name: str) -> JobStatus:
        self.gets.append(name)
        return self.jobs[name]

    def list_jobs(self, page_size: int = 100) -> Iterator[JobStatus]:
        yield from self.jobs.values()

    def classify(self, exc: BaseException) -> Failure:
        return Failure(transient=True, status=type(exc).__name__, message=str(exc))

    def upload(self, data: BinaryIO, display_name: str) -> str:
        raise AssertionError("small chunks go inline")

    def file_exists(self, name: str) -> bool:
        return False

    def cancel(self, name: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def download(self, file_name: str) -> bytes:
        return b""

    def delete_file(self, name: str) -> None: ...

    async def generate(self, model: str, request: Mapping[str, Any]) -> dict[str, Any]:
        return {}

    def count_tokens(self, model: str, text: str) -> int:
        return 0


def test_a_lost_create_response_is_reconciled_through_the_transport(tmp_path):
    arts = articles(30)
    plan = make_plan(arts, small_catalog())
    store = new_ledger(tmp_path, arts, plan, max_attempts=3, run_id="t", reconcile_grace_s=0.0)
    fake = _LostResponses()
    config = RunConfig.from_dict(store.get_meta("config"))
    ctx = Context(run_dir=tmp_path, store=store, _transport=fake, config=config)
    first = store.chunks_in("planned")[0]["chunk_id"]
    assert submit_chunk(ctx, first) == "unknown"  # the job may exist: never created again blindly
    assert store.chunk(first)["state"] == "submitting"
    listing = {job.display_name: [job] for job in fake.list_jobs()}
    assert reconcile(ctx, listing) == 1
    assert fake.gets == ["batches/0"]  # confirmed by name before it is believed
    row = store.chunk(first)
    assert (row["state"], row["batch_name"]) == ("submitted", "batches/0")
    assert len(fake.jobs) == 1
