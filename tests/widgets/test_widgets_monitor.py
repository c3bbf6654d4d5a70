"""MonitorPanel and Submit on the emulator: a real run, driven to done, charts that change, clean stop."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
from gembatch_widgets import MonitorPanel, SubmitPanel

import gembatch as gb
from gembatch import Run

PNG = b"\x89PNG\r\n\x1a\n"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "gembatch-monitor"]


def _create_run(tmp_path: Path, articles: pd.DataFrame, emulator: Any) -> Any:
    plan = gb.plan(articles, model="gemini-2.5-flash-lite", chunk_tokens=1500)
    assert len(plan.chunks) > 2
    return Run.create(tmp_path / "run", articles, plan, client=emulator.client())


def _wait_until(predicate: Any, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_click_submit_creates_a_run_on_the_emulator_and_monitors_it_to_done(
    tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    panel = SubmitPanel(
        articles,
        run_dir=tmp_path / "run",
        client=emulator.client(),
        monitor_interval=0.1,
        chunk_tokens=1500,
    )
    panel.submit_button.click()
    assert panel.run is not None, panel.status.value
    assert panel.submit_button.disabled  # one submission per panel
    assert (tmp_path / "run" / "ledger.sqlite").exists()
    monitor = panel.monitor
    assert monitor is not None
    assert monitor.widget in panel.monitor_box.children
    try:
        assert _wait_until(lambda: monitor.done), monitor.snapshot_text()
        created = emulator.stats()["batches_created_by_display_name"]
        assert len(created) == panel.summary.chunks
        assert all(n == 1 for n in created.values())  # exactly once per chunk
        assert _wait_until(lambda: not monitor.refreshing)  # the thread ends by itself when done
        view = monitor.refresh()
        assert view.articles == {"succeeded": 12, "failed": 0, "pending": 0}
        assert bytes(monitor.chart.value).startswith(PNG)
        text = panel.snapshot_text()
        assert "12 / 12 done" in text
        html = panel._repr_mimebundle_()["text/html"]
        assert "data:image/png;base64," in html
        assert "gb-state-done" in html
    finally:
        monitor.stop()
        panel.run.stop()
    assert not _monitor_threads()


def test_charts_change_as_the_run_progresses(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    run = _create_run(tmp_path, articles, emulator)
    monitor = MonitorPanel(run, autostart=False)
    assert not monitor.refreshing
    charts = [bytes(monitor.chart.value)]
    for _ in range(2000):
        report = run.step()
        monitor.refresh()
        if bytes(monitor.chart.value) != charts[-1]:
            charts.append(bytes(monitor.chart.value))
        if report.done:
            break
        time.sleep(0.01)
    assert monitor.done
    assert all(png.startswith(PNG) for png in charts)
    assert len(charts) >= 3  # created → jobs in flight → … → all collected
    assert monitor.snapshot_key() != ("unknown",)


def test_refresh_thread_runs_until_stopped_and_leaves_nothing_behind(
    tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    run = _create_run(tmp_path, articles, emulator)  # not started: the panel waits on it
    before = threading.active_count()
    monitor = MonitorPanel(run, interval=0.05)
    assert monitor.refreshing
    assert len(_monitor_threads()) == 1
    monitor.start()  # idempotent
    assert len(_monitor_threads()) == 1
    monitor.stop()
    assert not monitor.refreshing
    assert not _monitor_threads()
    assert threading.active_count() == before


def test_monitor_reopens_a_run_from_its_directory(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    run = _create_run(tmp_path, articles, emulator)
    assert run.wait(timeout=120, progress=False)
    # as after a kernel restart: only the directory is known
    monitor = MonitorPanel(str(tmp_path / "run"), client=emulator.client(), display="static")
    assert monitor.done
    assert not monitor.refreshing  # nothing to watch
    bundle = monitor._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert isinstance(run.monitor(display="static"), MonitorPanel)  # the gembatch.Run shortcut
    assert "12 / 12 done" in bundle["text/plain"]
    assert "data:image/png;base64," in bundle["text/html"]


def test_cancel_button_cancels_the_run(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    run = _create_run(tmp_path, articles, emulator)
    monitor = MonitorPanel(run, autostart=False)
    assert monitor.cancel_button.layout.display != "none"
    monitor.cancel_button.click()  # asks first: nothing is cancelled yet
    assert monitor.confirm_box.layout.display == "flex"
    assert monitor.run.summary().state != "cancelled"
    monitor.keep_running.click()
    assert monitor.confirm_box.layout.display == "none"
    assert monitor.run.summary().state != "cancelled"
    monitor.cancel_button.click()
    monitor.confirm_cancel.click()
    assert "cancel done" in monitor.status.value
    assert monitor.view.chunks_by_state.get("cancelled")
    assert monitor.cancel_button.disabled


def test_wait_drives_an_unstarted_run_and_returns_done(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    run = _create_run(tmp_path, articles, emulator)
    monitor = MonitorPanel(run, autostart=False, display="widget")
    assert WIDGET_MIME in monitor._repr_mimebundle_()
    assert monitor.wait(timeout=120)
    assert monitor.view.articles["succeeded"] == 12


def test_pause_and_resume_buttons(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    run = _create_run(tmp_path, articles, emulator)
    monitor = MonitorPanel(run, autostart=False)
    assert monitor.pause_button.description == "Pause"
    monitor.pause_button.click()
    assert monitor.view.state == "paused"
    assert monitor.pause_button.description == "Resume"
    assert run.step().submitted == 0  # paused: nothing is submitted
    monitor.pause_button.click()
    try:
        assert monitor.view.state != "paused"
        assert monitor.pause_button.description == "Pause"
        assert _wait_until(lambda: monitor.refresh().done)  # resume restarted the driver
    finally:
        monitor.stop()
        run.stop()


def test_retry_failed_button_requeues_and_finishes(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    plan = gb.plan(articles, model="gemini-2.5-flash-lite")
    run = Run.create(tmp_path / "run", articles, plan, client=emulator.client(), max_attempts=1)
    (chunk_id,) = plan.chunks.index
    emulator.inject_fault("batch", display_name=f"gembatch/{run.run_id}/{chunk_id}/1", outcome="FAILED")
    assert run.wait(timeout=120, progress=False)
    monitor = MonitorPanel(run, autostart=False)
    assert monitor.view.articles["failed"] == 12
    assert not monitor.retry_button.disabled
    monitor.retry_button.click()
    try:
        assert "retry done (12)" in monitor.status.value
        assert _wait_until(lambda: monitor.refresh().done)
        assert monitor.view.articles == {"succeeded": 12, "failed": 0, "pending": 0}
        assert monitor.retry_button.disabled
    finally:
        monitor.stop()
        run.stop()


def test_submit_in_realtime_mode_runs_on_generate_content(
    tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    panel = SubmitPanel(articles, run_dir=tmp_path / "rt", client=emulator.client(), monitor_interval=0.1)
    panel.mode.value = "realtime"
    assert not panel.submit_button.disabled, panel.submit_button.tooltip
    monitor = panel.submit()
    try:
        assert _wait_until(lambda: monitor.refresh().done), monitor.snapshot_text()
        assert monitor.view.articles["succeeded"] == 12
        assert not emulator.stats()["batches_created_by_display_name"]  # no batch job at all
    finally:
        monitor.stop()
        panel.run.stop()


def test_submitting_again_to_the_same_directory_reopens_the_run(
    tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    run = _create_run(tmp_path, articles, emulator)
    assert run.wait(timeout=120, progress=False)
    created = dict(emulator.stats()["batches_created_by_display_name"])
    # as when the notebook is re-run: a new panel, the same inputs and run directory
    panel = SubmitPanel(
        articles,
        run_dir=tmp_path / "run",
        model="gemini-2.5-flash-lite",
        client=emulator.client(),
        chunk_tokens=1500,
    )
    monitor = panel.submit()
    try:
        assert panel.run.run_id == run.run_id
        assert _wait_until(lambda: monitor.refresh().done)
        assert monitor.view.articles["succeeded"] == 12
        assert emulator.stats()["batches_created_by_display_name"] == created  # nothing sent twice
    finally:
        monitor.stop()
        panel.run.stop()


def test_a_different_prompt_in_the_same_directory_is_refused_with_the_reason(
    tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    _create_run(tmp_path, articles, emulator)
    panel = SubmitPanel(
        articles, run_dir=tmp_path / "run", client=emulator.client(), prompt="Summarise: {text}"
    )
    panel.submit_button.click()
    assert panel.run is None
    assert "submit failed" in panel.status.value
    assert "prompt" in panel.status.value  # RunMismatch names what differs


def test_auto_display_ends_on_the_final_snapshot_alone(
    monkeypatch, tmp_path: Path, articles: pd.DataFrame, emulator: Any
):
    bundles: list[dict[str, Any]] = []

    class Handle:
        def update(self, bundle: dict[str, Any], raw: bool = False) -> None:
            bundles.append(bundle)

    def fake_display(bundle: dict[str, Any], raw: bool = False, display_id: Any = None) -> Handle:
        bundles.append(bundle)
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    run = _create_run(tmp_path, articles, emulator)
    monitor = MonitorPanel(run, autostart=False)  # display="auto"
    monitor._ipython_display_()
    assert WIDGET_MIME in bundles[0]  # live in JupyterLab while the run goes on
    assert monitor.wait(timeout=120)
    # the output a saved notebook keeps: the snapshot, no widget view to render as an empty cell
    assert WIDGET_MIME not in bundles[-1]
    assert "gb-state-done" in bundles[-1]["text/html"]
    assert WIDGET_MIME in monitor._repr_mimebundle_()  # displayed again: live again (Retry failed)


def test_compact_mode_is_one_line_that_tells_the_truth(tmp_path: Path, articles: pd.DataFrame, emulator: Any):
    plan = gb.plan(articles, model="gemini-2.5-flash-lite")
    run = Run.create(tmp_path / "run", articles, plan, client=emulator.client(), max_attempts=1)
    (chunk_id,) = plan.chunks.index
    emulator.inject_fault("batch", display_name=f"gembatch/{run.run_id}/{chunk_id}/1", outcome="FAILED")
    assert run.wait(timeout=120, progress=False)
    monitor = MonitorPanel(run, autostart=False, compact=True, display="static")
    line = monitor.snapshot_text()
    assert "\n" not in line
    assert "12/12" in line
    assert "12 failed" in line
    assert "done · 12 failed" in line
    assert monitor.widget.children == (monitor.line,)
    assert "12 failed" in monitor.line.value
    assert not monitor.chart_pngs  # nothing drawn in compact mode
