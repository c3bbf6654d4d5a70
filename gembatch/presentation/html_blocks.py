"""Pure, escaped, bounded HTML and text building blocks for rich reprs (no Jupyter imports).

Every public object that wants a ``_repr_html_`` (Plan, Estimate, a run summary, the widget snapshots)
builds it from these small functions, so they share one look: scoped CSS under ``.gb-repr``, all
user text escaped, tables and strings cut to a bounded size, and a plain-text twin.

>>> from gembatch.presentation import html_blocks as hb
>>> html = hb.render("Plan", fields={"model": "gemini-2.5-flash-lite", "cost": hb.usd(1.5)})
>>> "gb-repr" in html and "&#36;1.50" in html  # "$" escaped: MathJax never pairs two amounts
True
"""

from __future__ import annotations

import base64
import html as _stdhtml
import math
import numbers
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from gembatch.presentation.formatters import count, pct, tokens, usd
from gembatch.presentation.formatters import is_missing as _is_missing

if TYPE_CHECKING:
    import pandas as pd

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
    "state_badge",
    "style",
    "tokens",
    "usd",
]

MAX_ROWS = 12  # table rows shown (head and tail halves) before "… n more rows"
MAX_COLS = 12
MAX_CELL = 80  # characters of one cell or field value
MAX_IMAGE_BYTES = 400_000  # an inline PNG larger than this is left out (notebooks stay small)

# State colours: one palette for chunk states, article outcomes and the charts.
STATE_COLORS: dict[str, str] = {
    "planned": "#9e9e9e",
    "pending": "#9e9e9e",
    "submitting": "#64b5f6",
    "submitted": "#1e88e5",
    "running": "#1e88e5",
    "paused": "#fb8c00",
    "succeeded": "#43a047",
    "collected": "#2e7d32",
    "done": "#2e7d32",
    "failed": "#e53935",
    "expired": "#fb8c00",
    "cancelled": "#616161",
}

# Badge colours by meaning (white text reads on each in light and dark themes).
TONES: dict[str, str] = {
    "ok": "#2e7d32",
    "bad": "#c62828",
    "warn": "#e65100",
    "info": "#1565c0",
    "muted": "#616161",
}

# Every element carries its look in an inline ``style`` attribute: a notebook that is not trusted
# (and nbviewer) drops ``<style>`` blocks but keeps these; GitHub drops both, and what is left is
# plain tables and text that still say everything. Colours are neutral (inherit, translucent grey)
# so the same HTML reads in light and dark themes.
_RULE = "border-bottom:1px solid rgba(128,128,128,.3)"
CSS: dict[str, str] = {
    "root": "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.45;"
    "max-width:960px;color:inherit",
    "title": "font-weight:600;font-size:14px",
    "sub": "opacity:.7;margin-left:.5em",
    "table": "border-collapse:collapse;margin:.3em 0",
    "th": "padding:2px 8px;text-align:right;font-weight:600;white-space:nowrap;"
    "border-bottom:1px solid rgba(128,128,128,.3)",
    "td": "padding:2px 8px;text-align:right;white-space:nowrap;" + _RULE,
    "td_txt": "padding:2px 8px;text-align:left;white-space:nowrap;" + _RULE,
    "kv_th": "padding:2px 8px;text-align:left;font-weight:normal;opacity:.75;white-space:nowrap;"
    "vertical-align:top",
    "kv_td": "padding:2px 8px;text-align:left",
    "section": "margin-top:.5em",
    "h": "font-weight:600;opacity:.8",
    "badge": "display:inline-block;padding:0 7px;border-radius:8px;color:#fff;font-size:11px;"
    "font-weight:600;vertical-align:middle",
    "bar": "display:flex;height:10px;width:100%;max-width:480px;border-radius:3px;overflow:hidden;"
    "background:rgba(128,128,128,.25)",
    "legend": "white-space:nowrap;margin-right:.9em",
    "dot": "display:inline-block;width:8px;height:8px;border-radius:4px;margin-right:3px",
    "more": "opacity:.7;font-style:italic",
    "foot": "opacity:.7;font-size:12px;margin-top:.3em",
    "img": "max-width:100%;height:auto",
}

#: Classes that keep MathJax (Jupyter, nbconvert, nbviewer) from typesetting ``$…$`` amounts as maths.
NO_MATH = "tex2jax_ignore mathjax_ignore"

#: A stylesheet for the ``gb-*`` classes, for pages that want one; :func:`render` does not need it.
STYLE = "<style>.gb-repr img{max-width:100%}</style>"


class Html(str):
    """A string of HTML that is already safe (built by these helpers); :func:`render` inserts it as is."""

    __slots__ = ()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def esc(value: object, limit: int = MAX_CELL) -> Html:
    """``value`` as escaped HTML text, cut to ``limit`` characters; ``Html`` passes through.

    ``$`` becomes ``&#36;`` too, so renderers that look for TeX in the source never pair two amounts.
    """
    if isinstance(value, Html):
        return value
    text = "—" if _is_missing(value) else str(value)
    return Html(_stdhtml.escape(_clip(text, limit), quote=True).replace("$", "&#36;"))


def style(name: str) -> str:
    """`` style="…"`` for one of the :data:`CSS` entries (with its leading space)."""
    return f' style="{CSS[name]}"'


def _color(state: str) -> str:
    return STATE_COLORS.get(state.lower(), "#757575")


def state_badge(state: object, tone: str | None = None) -> Html:
    """A coloured pill naming a state (``succeeded``, ``done · 4 failed``, ``backing off …``).

    ``tone`` (a :data:`TONES` key) sets the colour by meaning; without it the first word's
    :data:`STATE_COLORS` entry does. The text says it all where colours are stripped.
    """
    text = "—" if _is_missing(state) else str(state)
    word = text.split()[0].lower() if text.split() else "unknown"
    color = TONES.get(tone or "", _color(word))
    return Html(
        f'<span class="gb-badge gb-state-{esc(word, 24)}" title="state"'
        f' style="{CSS["badge"]};background:{color}">{esc(text, 80)}</span>'
    )


def progress_bar(counts: Mapping[str, float], total: float | None = None) -> Html:
    """A stacked bar of ``counts`` by state plus a legend; the rest of ``total`` stays blank."""
    shown = {str(k): float(v) for k, v in counts.items() if not _is_missing(v) and float(v) > 0}
    whole = float(total) if total else sum(shown.values())
    segs = []
    legend = []
    for state, n in shown.items():
        width = 100.0 * n / whole if whole else 0.0
        segs.append(
            f'<div title="{esc(state, 24)}: {count(n)}" '
            f'style="width:{min(width, 100.0):.2f}%;background:{_color(state)}"></div>'
        )
    for state, n in ((str(k), v) for k, v in counts.items()):
        legend.append(
            f'<span{style("legend")}><span class="gb-dot" style="{CSS["dot"]};background:{_color(state)}">'
            f"</span>{esc(state, 24)} {count(n)}</span> "
        )
    return Html(
        f'<div class="gb-bar"{style("bar")}>{"".join(segs)}</div>'
        f'<div class="gb-legend">{"".join(legend[:MAX_COLS])}</div>'
    )


def kv_table(mapping: Mapping[str, object]) -> Html:
    """A two-column table of labelled values (values that are ``Html`` are inserted unescaped)."""
    items = list(mapping.items())
    rows = [
        f'<tr><th scope="row"{style("kv_th")}>{esc(k, 40)}</th><td{style("kv_td")}>{esc(v)}</td></tr>'
        for k, v in items[: MAX_ROWS * 3]
    ]
    more = len(items) - MAX_ROWS * 3
    if more > 0:
        rows.append(f'<tr><td colspan="2" class="gb-more"{style("more")}>… {more} more</td></tr>')
    return Html(f'<table class="gb-kv"{style("table")}>{"".join(rows)}</table>')


def _cell(value: object) -> str:
    if isinstance(value, float) and not math.isnan(value) and value != int(value):
        return f"{value:,.4g}"
    if isinstance(value, int | float) and not isinstance(value, bool) and not _is_missing(value):
        return f"{int(value):,}" if float(value) == int(value) else str(value)
    return "—" if _is_missing(value) else str(value)


def _numeric(value: object) -> bool:
    return isinstance(value, int | float | numbers.Number) and not isinstance(value, bool)


def _frame_rows(df: pd.DataFrame, max_rows: int) -> tuple[list[tuple[object, list[object]]], int]:
    n = len(df)
    if n <= max_rows:
        picks = list(range(n))
    else:
        head = (max_rows + 1) // 2
        picks = [*range(head), *range(n - (max_rows - head), n)]
    rows = [(df.index[i], list(df.iloc[i])) for i in picks]
    return rows, n - len(picks)


def frame_table(
    df: pd.DataFrame, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS, max_cell: int = MAX_CELL
) -> Html:
    """A bounded HTML table of a DataFrame: head and tail rows, first ``max_cols`` columns."""
    cols = list(df.columns[:max_cols])
    sub = df[cols]
    rows, hidden = _frame_rows(sub, max_rows)
    head = (max_rows + 1) // 2
    index_name = df.index.name or ""
    th = style("th")
    out = [
        f"<tr><th{th}>{esc(index_name, 30)}</th>{''.join(f'<th{th}>{esc(c, 30)}</th>' for c in cols)}</tr>"
    ]
    for i, (key, values) in enumerate(rows):
        if hidden and i == head:
            span = len(cols) + 1
            more = f'<td colspan="{span}" class="gb-more"{style("more")}>… {count(hidden)} more rows</td>'
            out.append(f"<tr>{more}</tr>")
        cells = "".join(
            f"<td{style('td')}>{esc(_cell(v), max_cell)}</td>"
            if _numeric(v)
            else f'<td class="gb-txt"{style("td_txt")}>{esc(_cell(v), max_cell)}</td>'
            for v in values
        )
        out.append(f"<tr><th{th}>{esc(key, 30)}</th>{cells}</tr>")
    extra = len(df.columns) - len(cols)
    note = f'<div class="gb-more"{style("more")}>… {extra} more columns</div>' if extra > 0 else ""
    return Html(f"<table{style('table')}>{''.join(out)}</table>{note}")


def frame_text(df: pd.DataFrame, max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> str:
    """A bounded plain-text table of a DataFrame (same cuts as :func:`frame_table`)."""
    cols = list(df.columns[:max_cols])
    rows, hidden = _frame_rows(df[cols], max_rows)
    grid = [[str(df.index.name or ""), *(str(c) for c in cols)]]
    grid += [[_clip(str(k), 30), *(_clip(_cell(v), 30) for v in vals)] for k, vals in rows]
    widths = [max(len(r[j]) for r in grid) for j in range(len(grid[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)) for r in grid]
    if hidden:
        lines.insert(1 + (max_rows + 1) // 2, f"… {hidden:,} more rows")
    return "\n".join(lines)


def png_img(
    data: bytes | None, alt: str, max_bytes: int = MAX_IMAGE_BYTES, width: float | None = None
) -> Html:
    """An inline ``<img>`` of PNG bytes (a data URI); too large or empty images become a note.

    ``width``: the CSS width in pixels (a chart drawn at 2× shows sharp at its real size).
    """
    if not data:
        return Html(f'<div class="gb-more"{style("more")}>({esc(alt)}: no chart yet)</div>')
    if len(data) > max_bytes:
        note = f"({esc(alt)}: chart left out, {count(len(data))} bytes)"
        return Html(f'<div class="gb-more"{style("more")}>{note}</div>')
    b64 = base64.b64encode(data).decode("ascii")
    size = "" if width is None else f' width="{int(width)}"'
    return Html(f'<img src="data:image/png;base64,{b64}" alt="{esc(alt)}"{size}{style("img")}/>')


def _section(title: str, body: str) -> str:
    head = f'<div class="gb-h"{style("h")}>{esc(title, 60)}</div>' if title else ""
    return f'<div class="gb-section"{style("section")}>{head}{body}</div>'


def render(
    title: str,
    *,
    subtitle: str | None = None,
    badges: Iterable[object] = (),
    fields: Mapping[str, object] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    sections: Mapping[str, Html] | None = None,
    footer: str | None = None,
    max_rows: int = MAX_ROWS,
    max_cell: int = MAX_CELL,
) -> Html:
    """One self-contained repr block: a title line, a field table, bounded tables, free sections.

    ``badges`` are state names shown as pills (or ready pills from :func:`state_badge`);
    ``sections`` values must be ``Html`` from these helpers (e.g. :func:`progress_bar`,
    :func:`png_img`); everything else is escaped here.
    """
    parts = [
        f'<div class="gb-repr {NO_MATH}"{style("root")}>',
        f'<div><strong class="gb-title"{style("title")}>{esc(title, 80)}</strong>',
    ]
    if subtitle:
        parts.append(f' <span class="gb-sub"{style("sub")}>{esc(subtitle, 120)}</span>')
    parts.extend(f" {b if isinstance(b, Html) else state_badge(b)}" for b in badges)
    parts.append("</div>")
    if fields:
        parts.append(kv_table(fields))
    for name, body in (sections or {}).items():
        parts.append(_section(name, esc(body)))
    for name, df in (tables or {}).items():
        parts.append(
            _section(f"{name} ({count(len(df))})", frame_table(df, max_rows=max_rows, max_cell=max_cell))
        )
    if footer:
        parts.append(f'<div class="gb-foot"{style("foot")}>{esc(footer, 300)}</div>')
    parts.append("</div>")
    return Html("".join(parts))


def render_text(
    title: str,
    *,
    subtitle: str | None = None,
    fields: Mapping[str, object] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    max_rows: int = 6,
) -> str:
    """The plain-text twin of :func:`render` (for ``__repr__`` and ``text/plain``)."""
    lines = [f"{title}" + (f" — {subtitle}" if subtitle else "")]
    if fields:
        width = max((len(str(k)) for k in fields), default=0)
        lines += [f"  {str(k).ljust(width)}  {_clip(str(v), 100)}" for k, v in fields.items()]
    for name, df in (tables or {}).items():
        lines.append(f"  {name} ({len(df):,}):")
        lines += ["    " + line for line in frame_text(df, max_rows=max_rows).splitlines()]
    return "\n".join(lines)
