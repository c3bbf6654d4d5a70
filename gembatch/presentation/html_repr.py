"""Rich reprs: the HTML building blocks (:mod:`.html_blocks`) and a run summary's text and HTML.

>>> from gembatch.presentation import html_repr
>>> html = html_repr.render("Plan", fields={"cost": html_repr.usd(1.5)})
>>> "gb-repr" in html and "&#36;1.50" in html  # "$" escaped: MathJax never pairs two amounts
True
"""

from __future__ import annotations

from typing import Any

from gembatch.presentation.html_blocks import (
    MAX_CELL,
    MAX_COLS,
    MAX_IMAGE_BYTES,
    MAX_ROWS,
    NO_MATH,
    STATE_COLORS,
    STYLE,
    TONES,
    Html,
    count,
    esc,
    frame_table,
    frame_text,
    kv_table,
    pct,
    png_img,
    progress_bar,
    render,
    render_text,
    state_badge,
    tokens,
    usd,
)
from gembatch.presentation.summary_view import summary_html, summary_text
from gembatch.runs.summary import RunSummary

__all__ = [
    "MAX_CELL",
    "MAX_COLS",
    "MAX_IMAGE_BYTES",
    "MAX_ROWS",
    "NO_MATH",
    "STATE_COLORS",
    "STYLE",
    "TONES",
    "Html",
    "count",
    "esc",
    "frame_table",
    "frame_text",
    "kv_table",
    "pct",
    "png_img",
    "progress_bar",
    "render",
    "render_text",
    "run_summary_html",
    "run_summary_text",
    "state_badge",
    "tokens",
    "usd",
]


def _typed(summary: RunSummary | dict[str, Any]) -> RunSummary:
    return summary if isinstance(summary, RunSummary) else RunSummary(**summary)


def run_summary_html(summary: RunSummary | dict[str, Any], *, run_dir: str | None = None) -> Html:
    """:func:`~gembatch.presentation.summary_view.summary_html` of a summary or its ``to_dict()``."""
    return Html(summary_html(_typed(summary), run_dir or ""))


def run_summary_text(summary: RunSummary | dict[str, Any], *, run_dir: str | None = None) -> str:
    """:func:`~gembatch.presentation.summary_view.summary_text` of a summary or its ``to_dict()``."""
    return summary_text(_typed(summary), run_dir or "")
