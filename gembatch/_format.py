"""Small pure helpers for text and HTML reprs: escaped, scoped and bounded."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd

MAX_ROWS = 12
_CSS = (
    "<style>.gembatch-repr table{border-collapse:collapse;font-size:12px}"
    ".gembatch-repr td,.gembatch-repr th{padding:2px 8px;text-align:right}"
    ".gembatch-repr th:first-child,.gembatch-repr td:first-child{text-align:left}"
    ".gembatch-repr .note{color:#666;font-size:11px}</style>"
)


def num(value: float | int) -> str:
    """Thousands separators; floats to two decimals."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def usd(value: float) -> str:
    return f"${value:,.4f}" if abs(value) < 1 else f"${value:,.2f}"


def text_table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    """Left-aligned first column, right-aligned others."""
    allrows = [list(header)] if header else []
    allrows += [list(r) for r in rows]
    if not allrows:
        return ""
    widths = [max(len(r[i]) for r in allrows) for i in range(len(allrows[0]))]
    lines = []
    for r in allrows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def html_table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    head = "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def html_block(title: str, parts: Sequence[str], notes: Sequence[str] = ()) -> str:
    """Scoped wrapper; ``parts`` are already-escaped HTML fragments."""
    note = "".join(f'<div class="note">{html.escape(n)}</div>' for n in notes)
    return f'<div class="gembatch-repr">{_CSS}<b>{html.escape(title)}</b>{"".join(parts)}{note}</div>'


def frame_rows(frame: pd.DataFrame, max_rows: int = MAX_ROWS) -> tuple[list[str], list[list[str]], int]:
    """(header, formatted rows, hidden row count) of a frame, bounded to ``max_rows``."""
    header = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    shown = frame if len(frame) <= max_rows else pd.concat([frame.head(max_rows - 2), frame.tail(2)])
    rows = []
    for idx, rec in zip(shown.index, shown.itertuples(index=False), strict=True):
        cells = [str(idx)]
        for col, v in zip(frame.columns, rec, strict=True):
            if isinstance(v, float) and "usd" in str(col):
                cells.append(usd(v))
            elif isinstance(v, int | float) and not isinstance(v, bool):
                cells.append(num(v))
            else:
                cells.append(str(v))
        rows.append(cells)
    hidden = len(frame) - len(shown)
    if hidden:
        rows.insert(max_rows - 2, ["…"] + ["" for _ in frame.columns])
    return header, rows, hidden
