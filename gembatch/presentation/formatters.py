"""Small pure helpers for plain-text reprs and CLI tables (HTML reprs: :mod:`.html_repr`)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

MAX_ROWS = 12


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
