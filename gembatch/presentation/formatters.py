"""The one set of formatters for money, counts, tokens, percentages and durations, plus text tables.

Every face (reprs, the CLI, the runbook progress lines, the panels) formats through these, so a
figure reads the same everywhere.

>>> usd(1234.5), usd(0.1234), usd(0.0042), tokens(4_560_000), duration(95)
('$1,234.50', '$0.123', '$0.0042', '4.56M', '1.6 min')
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

__all__ = [
    "MAX_ROWS",
    "count",
    "duration",
    "frame_rows",
    "is_missing",
    "num",
    "pct",
    "text_table",
    "tokens",
    "usd",
]

MAX_ROWS = 12
MISSING = "—"


def is_missing(value: object) -> bool:
    """``None``, NaN or ``pandas.NA``: shown as "—"."""
    if value is None or type(value).__name__ == "NAType":  # pandas.NA, without comparing it
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:  # pragma: no cover - exotic numbers
        return False


def num(value: float | int) -> str:
    """Thousands separators; floats to two decimals."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def usd(value: float | None) -> str:
    """Dollars: cents from $1 up (``$1,234.50``), three significant digits below (``$0.123``)."""
    if is_missing(value):
        return MISSING
    v = float(value)  # type: ignore[arg-type]
    if v == 0 or abs(v) >= 1:
        return f"${v:,.2f}"
    if abs(v) < 1e-6:
        return f"${v:.2g}"
    decimals = max(2, 2 - math.floor(math.log10(abs(v))))
    text = f"{v:.{decimals}f}"
    head, _, tail = text.partition(".")
    return f"${head}.{tail[:2]}{tail[2:].rstrip('0')}"


def count(value: float | None) -> str:
    """An integer count with thousands separators (``12,000``)."""
    return MISSING if is_missing(value) else f"{int(value or 0):,}"


def tokens(value: float | None) -> str:
    """A token count, compact: ``950``, ``12.3k``, ``4.56M``, ``1.2B``."""
    if is_missing(value):
        return MISSING
    n = float(value or 0)
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{int(n)}"


def pct(part: float | None, whole: float | None) -> str:
    """``part / whole`` as a percentage (``42%``), or "—" when undefined."""
    if is_missing(part) or is_missing(whole) or not whole:
        return MISSING
    return f"{100.0 * float(part or 0) / float(whole):.0f}%"


def duration(seconds: float | None) -> str:
    """Seconds as ``0.4 s``, ``45 s``, ``12.5 min`` or ``2.1 h``."""
    if is_missing(seconds) or not math.isfinite(float(seconds)):  # type: ignore[arg-type]
        return MISSING
    s = float(seconds)  # type: ignore[arg-type]
    if s < 10:
        return f"{s:.1f} s"
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


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
