"""Run charts: PNG bytes from the OO matplotlib API, changing with the run's events."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from gembatch_widgets import render_run_chart
from gembatch_widgets._charts import CHARTS, SMALL_CHART_CSS, render_run_charts

PNG = b"\x89PNG\r\n\x1a\n"


def _events(n: int) -> pd.DataFrame:
    """Events as gembatch's ledger records them (spend_usd is committed spend)."""
    return pd.DataFrame(
        {
            "time": pd.date_range("2026-01-01", periods=n, freq="20s", tz="UTC"),
            "kind": ["submitted"] * n,
            "enqueued_tokens": [1000 * (i % 4) for i in range(n)],
            "spend_usd": [0.01 * i for i in range(n)],
            "succeeded": [2 * i for i in range(n)],
            "failed": [0] * n,
            "pending": [100 - 2 * i for i in range(n)],
        }
    )


def test_chart_is_png_and_changes_as_events_arrive():
    kwargs = {"quota_tokens": 5000, "headroom": 0.9, "estimated_cost_usd": 0.5, "total_articles": 100}
    empty = render_run_chart(None, **kwargs)
    early = render_run_chart(_events(3), **kwargs)
    late = render_run_chart(_events(8), **kwargs)
    for png in (empty, early, late):
        assert png.startswith(PNG)
    assert len({empty, early, late}) == 3


def test_chart_bytes_are_deterministic():
    assert render_run_chart(_events(5), cap_tokens=4000) == render_run_chart(_events(5), cap_tokens=4000)


def test_chart_tolerates_missing_columns_and_blank_values():
    events = pd.DataFrame({"kind": ["x", "y"], "enqueued_tokens": [None, 5]})
    assert render_run_chart(events).startswith(PNG)


def test_widgets_never_import_pyplot():
    code = (
        "import sys, gembatch_widgets\n"
        "gembatch_widgets.render_run_chart(None)\n"
        "print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _png_size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_separate_charts_are_drawn_at_twice_their_css_size_on_a_transparent_background():
    charts = render_run_charts(_events(6), quota_tokens=5000, headroom=0.9, total_articles=100)
    assert list(charts) == list(CHARTS)
    for png in charts.values():
        assert png.startswith(PNG)
        assert _png_size(png) == (2 * SMALL_CHART_CSS[0], 2 * SMALL_CHART_CSS[1])
        assert png[25] == 6  # colour type RGBA: transparent, so dark themes show no white block
    assert _png_size(render_run_chart(None)) == (1920, 920)


def test_tick_labels_never_repeat_on_empty_or_tiny_charts():
    import numpy as np
    from gembatch_widgets import _charts
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    zeros = _events(4).assign(enqueued_tokens=0, spend_usd=0.0, actual_usd=0.00001)
    x = np.arange(len(zeros), dtype=float)
    for events in (pd.DataFrame(), zeros):
        fig = Figure()
        FigureCanvasAgg(fig)
        ax_tok, ax_cost = fig.subplots(1, 2)
        xs = x if len(events) else np.arange(0, dtype=float)
        _charts._token_chart(ax_tok, xs, events, 10_000_000, 9_000_000)
        _charts._cost_chart(ax_cost, xs, ev=events, plan=0.0004, budget=None)
        fig.canvas.draw()
        for ax in (ax_tok, ax_cost):
            labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
            assert len(labels) == len(set(labels)), labels  # never "0, 0, 0, 0"
        money = [t.get_text() for t in ax_cost.get_yticklabels() if t.get_text()]
        if len(events):
            assert len({len(m.split(".")[-1]) for m in money}) == 1  # one number of decimals, e.g. $0.0010
            assert all(m.startswith("$") for m in money)
