"""MonitorPanel: a run's headline, failures, events, jobs and live charts, refreshed by one daemon thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

import gembatch
from gembatch.presentation import html_blocks as _html
from gembatch.presentation.summary_view import badge, badge_tone
from gembatch_widgets import _sections as sections
from gembatch_widgets._charts import CHARTS, SMALL_CHART_CSS, render_run_charts
from gembatch_widgets._display import SnapshotDisplay
from gembatch_widgets._view import (
    RunView,
    compact_line,
    failure_table,
    jobs_frame,
    read_run,
    view_fields,
    view_html,
    view_text,
)

__all__ = ["MonitorPanel"]


def _open_run(run: gembatch.Run | str | os.PathLike[str], client: Any) -> gembatch.Run:
    if isinstance(run, str | os.PathLike):
        return gembatch.Run.open(run, client=client)
    return run


class MonitorPanel(SnapshotDisplay):
    """Live view of a :class:`gembatch.Run`: progress by state, jobs table, charts, controls.

    Parameters
    ----------
    run
        A run, or its directory (reopened with ``Run.open``, e.g. after a kernel restart).
    display
        ``"auto"`` (default, or ``$GEMBATCH_DISPLAY``), ``"widget"`` or ``"static"``.
    interval
        Seconds between refreshes of the background thread.
    autostart
        Start the refresh thread now (it stops by itself when the run is done).
    client
        The ``genai.Client`` used when ``run`` is a directory.
    compact
        One tqdm-like line instead of the full panel (scripts, small screens).

    Examples
    --------
    >>> panel = MonitorPanel(run)          # doctest: +SKIP
    >>> panel.wait(timeout=600)            # doctest: +SKIP  (blocks; the snapshot shows the end state)
    """

    def __init__(
        self,
        run: gembatch.Run | str | os.PathLike[str],
        *,
        display: str | None = None,
        interval: float = 1.0,
        autostart: bool = True,
        client: Any = None,
        compact: bool = False,
    ) -> None:
        self._init_display(display)
        self.run = _open_run(run, client)
        self.compact = bool(compact)
        self.interval = float(interval)
        self.view = RunView()
        self.chart_png = b""  # the first chart (articles done)
        self.chart_pngs: dict[str, bytes] = {}
        self._events_key: object = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._read_lock = threading.Lock()

        self.header = widgets.HTML()
        self.headline = widgets.HTML()
        self.headline.add_class("gb-monitor-headline")
        self.last_event = widgets.HTML()
        self.articles_bar = widgets.HTML()
        self.failures = widgets.HTML()
        self.failures.add_class("gb-monitor-failures")
        self.figures = widgets.HTML()
        # one image per chart at its real size; they wrap to the window's width
        self.charts = {
            name: widgets.Image(
                format="png",
                layout=widgets.Layout(
                    width=f"{SMALL_CHART_CSS[0]}px", max_width="100%", height="auto", margin="0 14px 4px 0"
                ),
            )
            for name in CHARTS
        }
        for name, image in self.charts.items():
            image.add_class("gb-monitor-chart")
            image.add_class(f"gb-chart-{name}")
        self.chart = self.charts["done"]
        self.chart_box = widgets.Box(
            list(self.charts.values()),
            layout=widgets.Layout(display="flex", flex_flow="row wrap"),
        )
        self.jobs = widgets.HTML()
        self.event_log = widgets.HTML()
        self.status = widgets.HTML()
        self.status.add_class("gb-monitor-status")
        self.line = widgets.HTML()
        self.line.add_class("gb-monitor-line")
        self.pause_button = widgets.Button(
            description="Pause", icon="pause", tooltip="Stop submitting new jobs (jobs in flight go on)"
        )
        self.cancel_button = widgets.Button(
            description="Cancel", icon="stop", button_style="danger", tooltip="Cancel the run (asks first)"
        )
        self.retry_button = widgets.Button(description="Retry failed", icon="redo")
        self.confirm_cancel = widgets.Button(description="Yes, cancel the run", button_style="danger")
        self.keep_running = widgets.Button(description="No, keep it running")
        self.confirm_box = widgets.HBox(
            [widgets.HTML("<b>Cancel every job in flight and submit nothing more?</b>"),
             self.confirm_cancel, self.keep_running],
            layout=widgets.Layout(display="none"),
        )  # fmt: skip
        self.confirm_box.add_class("gb-monitor-confirm")
        for button in (self.pause_button, self.cancel_button, self.retry_button):
            button.layout = widgets.Layout(width="auto", min_width="110px")
        self.pause_button.on_click(self._on_pause)
        self.cancel_button.on_click(self._on_cancel)
        self.retry_button.on_click(self._on_retry)
        self.confirm_cancel.on_click(self._on_confirm_cancel)
        self.keep_running.on_click(self._on_keep_running)
        controls = widgets.HBox([self.pause_button, self.cancel_button, self.retry_button])
        details = widgets.Accordion(children=[self.figures, self.event_log])
        details.set_title(0, "all figures")
        details.set_title(1, "event log")
        details.selected_index = None
        self.details = details
        children: list[widgets.Widget] = [
            self.header,
            self.headline,
            self.last_event,
            self.articles_bar,
            self.failures,
            self.chart_box,
            controls,
            self.confirm_box,
            self.jobs,
            details,
            self.status,
        ]
        self.widget = widgets.VBox([self.line] if self.compact else children)
        self.widget.add_class("gb-monitor")
        self.refresh()
        if autostart and not self.done:
            self.start()

    # --- reading ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Whether the run has finished (every article succeeded or failed for good, or cancelled)."""
        return self.view.done

    def refresh(self) -> RunView:
        """Read the run once and update every widget trait (safe from any thread)."""
        with self._read_lock:
            try:
                view = read_run(self.run, self.view)
            except Exception as exc:  # keep the panel alive; show what went wrong
                self.status.value = (
                    f'<span style="color:#e53935">refresh failed: {_html.esc(exc, 300)}</span>'
                )
                return self.view
            self.view = view
            s = view.summary
            if s is not None and not self.compact:
                self._update_chart(view)
            self._set_traits(view)
            return view

    def _update_chart(self, view: RunView) -> None:
        s = view.summary
        assert s is not None
        events, chunks = view.events, view.chunks
        key = (
            len(events),
            tuple(events.iloc[-1].astype(str)) if len(events) else (),
            view.key(),
            int(s.jobs_in_flight and view.read_at // 5),  # bars of jobs in flight grow with time
        )
        if key == self._events_key and self.chart_pngs:
            return
        self.chart_pngs = render_run_charts(
            events,
            quota_tokens=s.quota_tokens,
            headroom=s.headroom,
            cap_tokens=s.enqueued_cap,
            estimated_cost_usd=s.cost_estimated_usd,
            budget_usd=s.budget_usd,
            total_articles=s.articles or None,
            chunks=chunks,
            done_run=view.done,
        )
        self._events_key = key
        for name, png in self.chart_pngs.items():
            self.charts[name].value = png
        self.chart_png = self.chart_pngs["done"]

    def _set_traits(self, view: RunView) -> None:
        s = view.summary
        if s is None:
            return
        shown = _html.state_badge(badge(s), tone=badge_tone(s))
        self.line.value = (
            f'<div class="{_html.NO_MATH}" style="font-family:monospace;white-space:pre;overflow-x:auto">'
            f"{_html.esc(compact_line(view), 300)}</div>"
        )
        subtitle = " · ".join(x for x in (s.run_id, s.model) if x)
        self.header.value = (
            f'<div class="gb-repr {_html.NO_MATH}"><strong style="font-size:14px">gembatch run</strong> '
            f'<span style="opacity:.7">{_html.esc(subtitle, 120)}</span> {shown}</div>'
        )
        self.headline.value = f'<div class="{_html.NO_MATH}">{sections.headline_html(s)}</div>'
        self.last_event.value = (
            f'<div class="{_html.NO_MATH}">{sections.last_event_html(s)}</div>' if s.last_event else ""
        )
        self.articles_bar.value = (
            f'<div class="gb-repr {_html.NO_MATH}">{_html.progress_bar(view.articles, s.articles)}</div>'
        )
        failures = failure_table(view)
        self.failures.value = (
            f'<div class="gb-repr {_html.NO_MATH}"><b>failures by reason</b>'
            f"{sections.failures_html(failures)}</div>"
            if not failures.empty
            else ""
        )
        self.figures.value = f'<div class="gb-repr {_html.NO_MATH}">{_html.kv_table(view_fields(view))}</div>'
        self.event_log.value = (
            f'<div class="gb-repr {_html.NO_MATH}">{sections.events_table(view.events)}</div>'
        )
        jobs = jobs_frame(view.chunks, s, view.read_at or None)
        self.jobs.value = (
            f'<div class="gb-repr {_html.NO_MATH}"><b>jobs</b> (in flight and straggling first)'
            f"{_html.frame_table(jobs, max_rows=10, max_cell=60)}</div>"
            if not jobs.empty
            else ""
        )
        paused = view.state == "paused"
        self.pause_button.description = "Resume" if paused else "Pause"
        self.pause_button.icon = "play" if paused else "pause"
        for button in (self.pause_button, self.cancel_button):
            button.disabled = view.done or view.state == "cancelled"
        self.retry_button.disabled = not s.failed
        moment = time.strftime("%H:%M:%S")
        self.status.value = f"<small>{_html.esc(badge(s), 120)} · updated {moment}</small>"

    # --- snapshot -----------------------------------------------------------------------------
    def snapshot_html(self) -> str:
        """Static HTML of the current state (chart inline), as papermill and GitHub keep it."""
        if self.compact:
            return self.line.value
        if not self.chart_pngs and self.view.summary is not None:
            self._update_chart(self.view)
        return view_html(self.view, self.chart_pngs)

    def snapshot_text(self) -> str:
        """Plain-text summary of the current state (one line in compact mode)."""
        return compact_line(self.view) if self.compact else view_text(self.view)

    def snapshot_key(self) -> object:
        """Changes on state transitions only (not on every refresh)."""
        return (self.view.key(), self.finished())

    def finished(self) -> bool:
        """The run is done and the panel no longer refreshes: only the final snapshot is left."""
        return self.done and not self.refreshing

    # --- the refresh thread -------------------------------------------------------------------
    def start(self) -> None:
        """Start the daemon refresh thread (no-op if it runs); it only sets widget traits."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gembatch-monitor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh()
            if self.done:
                break

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the refresh thread and wait for it; refreshes the displayed snapshot once more."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.refresh_display()

    @property
    def refreshing(self) -> bool:
        """Whether the refresh thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None, poll: float | None = None) -> bool:
        """Block until the run is done (or ``timeout`` seconds), then refresh the displayed snapshot.

        If nothing drives the run (no scheduler thread), drives it here with ``run.wait``.
        Returns whether the run is done.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self.run.is_running:
            self.run.wait(timeout=timeout, progress=False)
        while not self.refresh().done:
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(poll if poll is not None else min(self.interval, 0.5))
        if self.done:
            self.stop()  # nothing more to watch: join the thread, then show the final snapshot
        else:
            self.refresh_display()
        return self.done

    def close(self) -> None:
        """Stop refreshing and close the widgets."""
        self.stop()
        self._remove_hook()
        self.widget.close()

    # --- controls -----------------------------------------------------------------------------
    def _call(self, action: Callable[[], object], label: str, *, drive: bool = False) -> None:
        """Run one control; ``drive``: the run must be driven again afterwards (retry, resume)."""
        try:
            out = action()
        except Exception as exc:
            self.status.value = f'<span style="color:#e53935">{label} failed: {_html.esc(exc, 300)}</span>'
            return
        if drive:
            if not self.run.is_running:
                self.run.start()  # a finished run's driver has stopped: retried articles need it again
            self.start()
        self.refresh()
        note = f" ({_html.esc(out)})" if isinstance(out, int) else ""
        self.status.value = f"<small>{_html.esc(label)} done{note}</small>"
        self.refresh_display()

    def _on_pause(self, _button: widgets.Button) -> None:
        if self.view.state == "paused":
            self._call(self.run.resume, "resume/pause", drive=True)
        else:
            self._call(self.run.pause, "resume/pause")

    def _on_cancel(self, _button: widgets.Button) -> None:
        """Ask first: a cancelled run submits nothing more."""
        self.confirm_box.layout.display = "flex"
        self.cancel_button.disabled = True

    def _on_keep_running(self, _button: widgets.Button) -> None:
        self.confirm_box.layout.display = "none"
        self.cancel_button.disabled = self.view.done
        self.status.value = "<small>not cancelled</small>"

    def _on_confirm_cancel(self, _button: widgets.Button) -> None:
        self.confirm_box.layout.display = "none"
        self._call(self.run.cancel, "cancel")

    def _on_retry(self, _button: widgets.Button) -> None:
        self._call(self.run.retry_failed, "retry", drive=True)

    def __repr__(self) -> str:
        return self.snapshot_text()
