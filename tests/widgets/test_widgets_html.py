"""gembatch.presentation.html_repr: escaped, bounded, scoped HTML and text for rich reprs."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pandas as pd

from gembatch.presentation import html_repr as _html
from gembatch.presentation.summary_view import summary_html, summary_line, summary_text
from gembatch.runs.summary import RunSummary


def _frame(n: int) -> pd.DataFrame:
    index = pd.Index([f"c{i:05d}" for i in range(n)], name="chunk_id")
    return pd.DataFrame({"state": ["<b>planned</b>"] * n, "articles": range(n)}, index=index)


def test_everything_user_supplied_is_escaped():
    html = _html.render(
        "Plan <script>",
        subtitle="<img src=x onerror=alert(1)>",
        badges=["<i>x</i>"],
        fields={"prompt": "<script>alert(1)</script>", "<k>": 1},
        tables={"chunks": _frame(3)},
        footer="</div>",
    )
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "&lt;b&gt;planned&lt;/b&gt;" in html
    assert html.count("<div") == html.count("</div>")


def test_html_values_from_helpers_are_inserted_as_is():
    bar = _html.progress_bar({"succeeded": 3, "failed": 1, "pending": 6})
    html = _html.render("Run", fields={"progress": bar})
    assert str(bar) in html
    assert "width:30.00%" in bar
    assert "width:10.00%" in bar


def test_tables_and_text_are_bounded():
    big = _frame(100_000)
    html = _html.render("Plan", tables={"chunks": big})
    assert len(html) < 20_000
    assert "99,988 more rows" in html
    assert "c99999" in html  # tail rows are shown too
    text = _html.render_text("Plan", fields={"prompt": "x" * 10_000}, tables={"chunks": big})
    assert len(text) < 2_000
    assert "more rows" in text
    assert len(_html.esc("y" * 10_000)) <= _html.MAX_CELL


def test_wide_frames_are_cut_to_max_cols():
    wide = pd.DataFrame([list(range(40))], columns=[f"col{i}" for i in range(40)])
    html = _html.frame_table(wide)
    assert "col11" in html
    assert "col12" not in html
    assert "28 more columns" in html


def test_number_formats():
    assert _html.usd(1234.5) == "$1,234.50"
    assert _html.usd(0.0042) == "$0.0042"
    assert _html.usd(None) == "—"
    assert _html.count(12000) == "12,000"
    assert _html.tokens(4_560_000) == "4.56M"
    assert _html.tokens(950) == "950"
    assert _html.pct(1, 4) == "25%"
    assert _html.pct(1, 0) == "—"


def test_png_img_inlines_small_pngs_and_drops_large_ones():
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    assert _html.png_img(png, "chart").startswith('<img src="data:image/png;base64,')
    assert "left out" in _html.png_img(png, "chart", max_bytes=10)
    assert "no chart yet" in _html.png_img(b"", "chart")


def test_styling_is_inline_and_amounts_are_kept_from_mathjax():
    html = _html.render(
        "Plan", badges=["running"], fields={"cost": "$0.02 (p90 $0.03)"}, tables={"c": _frame(2)}
    )
    assert "<style" not in html  # sanitisers drop style blocks; inline attributes survive more of them
    assert html.count('style="') > 5
    assert 'class="gb-repr tex2jax_ignore mathjax_ignore"' in html
    assert "$" not in html  # two amounts never pair into TeX, whatever renders the source
    assert "&#36;0.02 (p90 &#36;0.03)" in html


def test_state_badge_colours_by_tone_and_names_the_state_in_text():
    red = _html.state_badge("done · 4 failed", tone="bad")
    assert "done · 4 failed" in red
    assert _html.TONES["bad"] in red
    assert "gb-state-done" in red
    assert _html.TONES["ok"] in _html.state_badge("done", tone="ok")


def test_html_helpers_import_no_jupyter():
    code = (
        "import sys, gembatch.presentation.html_repr\n"
        "print(any(m.startswith(('ipywidgets', 'IPython', 'matplotlib')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _summary(**changes: object) -> RunSummary:
    fields: dict[str, Any] = {
        "run_id": "<b>r1</b>",
        "model": "gemini-2.5-flash-lite",
        "tier": "tier1",
        "policy": "rolling",
        "mode": "batch",
        "articles": 12,
        "succeeded": 9,
        "failed": 1,
        "pending": 2,
        "chunks": {"collected": 3, "submitted": 1},
        "jobs_in_flight": 1,
        "enqueued_tokens": 1500,
        "enqueued_cap": 9_000_000,
        "quota_tokens": 10_000_000,
        "cost_actual_usd": 0.0004,
        "cost_committed_usd": 0.0006,
        "cost_estimated_usd": 0.001,
        "budget_usd": 1.0,
        "state": "running",
        "done": False,
    }
    return RunSummary(**{**fields, **changes})


def test_run_summary_views_read_every_figure_of_the_typed_summary():
    summary = _summary()
    html = summary_html(summary, "runs/x")
    assert "&lt;b&gt;r1&lt;/b&gt;" in html
    assert "10 / 12 done (83%), 1 failed" in html
    assert "gb-state-running" in html
    assert "&#36;0.0004 actual" in html
    assert "runs/x" in html
    text = summary_text(summary, "runs/x")
    assert "1 jobs · 1.5k of 9M enqueued tokens (cap: 90% of the 10M quota)" in text
    assert "collected 3, submitted 1" in text
    assert "$0.0006 committed, $0.001 estimated (budget $1.00)" in text
    # the dict form (summary.to_dict(), as JSON carries it) renders the same
    assert _html.run_summary_text(summary.to_dict(), run_dir="runs/x") == text
    assert _html.run_summary_html(summary.to_dict(), run_dir="runs/x") == html
    finished = summary_text(_summary(done=True, state="done", pending=0, succeeded=11), "runs/x")
    assert finished.splitlines()[0].endswith("· done · 1 failed>")


def test_run_summary_views_show_failures_the_last_error_and_the_back_off():
    now = time.time()
    summary = _summary(
        failure_reasons={"400 INVALID_ARGUMENT": 1},
        last_error="429 RESOURCE_EXHAUSTED: quota",
        last_error_at=now,
        backoff_until=now + 60,
        elapsed_s=30.0,
        eta_s=120.0,
    )
    for view in (summary_text(summary, "runs/x"), summary_html(summary, "runs/x")):
        assert "400 INVALID_ARGUMENT 1" in view
        assert "429 RESOURCE_EXHAUSTED: quota" in view
        assert "submitting again at" in view
        assert "backing off" in view
        assert "elapsed 30 s" in view
        assert "ETA 2.0 min" in view
    assert "backing off" in summary_line(summary)


def test_summary_to_dict_round_trips_every_field_the_views_read():
    summary = _summary(last_error="boom", failure_reasons={"x": 1})
    assert RunSummary(**summary.to_dict()) == summary
