"""Run charts as PNG bytes from matplotlib's object-oriented Figure on the Agg canvas (never pyplot)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from gembatch.presentation.formatters import tokens, usd
from gembatch.presentation.html_repr import STATE_COLORS

__all__ = ["column", "elapsed", "render_run_chart"]


def column(events: pd.DataFrame, name: str) -> pd.Series | None:
    """``events[name]`` as floats (NaN for blanks), or ``None`` when the column is absent."""
    if name not in events.columns:
        return None
    return pd.to_numeric(events[name], errors="coerce").astype(float)


def _done(events: pd.DataFrame) -> pd.Series | None:
    """Articles with a final outcome: ``succeeded`` plus ``failed`` (columns of ``Run.events()``)."""
    succeeded, failed = column(events, "succeeded"), column(events, "failed")
    return None if succeeded is None or failed is None else succeeded + failed


def elapsed(events: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Time since the first event in a readable unit (s, min or h), or the event number without times."""
    if "time" in events.columns and len(events):
        times = pd.to_datetime(events["time"], errors="coerce", utc=True)
        if times.notna().any():
            seconds = (times - times.min()).dt.total_seconds().fillna(0.0).to_numpy(dtype=float)
            span = float(seconds.max())
            for unit, scale, upto in (
                ("seconds", 1.0, 120.0),
                ("minutes", 60.0, 7200.0),
                ("hours", 3600.0, 0),
            ):
                if span <= upto or not upto:
                    return seconds / scale, unit
    return np.arange(len(events), dtype=float), "event"


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=7)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(alpha=0.25, linewidth=0.6)


def _step(ax: Axes, x: np.ndarray, y: pd.Series | None, label: str, color: str) -> bool:
    if y is None:
        return False
    mask = y.notna().to_numpy()
    if not mask.any():
        return False
    ax.step(x[mask], y.to_numpy()[mask], where="post", label=label, color=color, linewidth=1.6)
    return True


def _waiting(ax: Axes) -> None:
    ax.text(
        0.5,
        0.5,
        "waiting for events",
        ha="center",
        va="center",
        fontsize=8,
        color="#888",
        transform=ax.transAxes,
    )


def render_run_chart(
    events: pd.DataFrame | None,
    *,
    quota_tokens: float | None = None,
    headroom: float | None = None,
    cap_tokens: float | None = None,
    estimated_cost_usd: float | None = None,
    budget_usd: float | None = None,
    total_articles: float | None = None,
    width: float = 9.6,
    height: float = 2.5,
    dpi: int = 80,
) -> bytes:
    """Three small charts of one run as PNG bytes.

    Left: enqueued tokens over time against the quota line (and quota × headroom, or only the
    scheduler's ``cap_tokens`` when the quota is unknown). Middle: cumulative
    cost, committed at submit (estimated) vs settled (actual), with the plan's estimate and the budget.
    Right: articles done over time against the total. Missing columns leave their chart blank.

    >>> png = render_run_chart(None, quota_tokens=10_000_000)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    ev = events if events is not None else pd.DataFrame()
    x, unit = elapsed(ev)
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax_tok, ax_cost, ax_done = fig.subplots(1, 3)

    quota_label = "quota"
    if cap_tokens and not quota_tokens:
        quota_tokens, headroom, quota_label = cap_tokens, None, "cap"
    _style(ax_tok, "enqueued tokens")
    drew = _step(ax_tok, x, column(ev, "enqueued_tokens"), "enqueued", STATE_COLORS["submitted"])
    if quota_tokens:
        ax_tok.axhline(
            quota_tokens, color=STATE_COLORS["failed"], linewidth=1, linestyle="--", label=quota_label
        )
        if headroom and 0 < headroom < 1:
            ax_tok.axhline(
                quota_tokens * headroom, color=STATE_COLORS["expired"], linewidth=0.8, linestyle=":"
            )
        enq = column(ev, "enqueued_tokens")
        peak = float(enq.max()) if enq is not None and enq.notna().any() else 0.0
        if peak >= 0.05 * quota_tokens:
            ax_tok.set_ylim(0, quota_tokens * 1.1)
        else:  # a small run next to a big quota: keep the run readable, name the quota
            ax_tok.set_ylim(0, max(peak * 1.3, 1.0))
            ax_tok.text(
                0.98, 0.95, f"{quota_label} {tokens(quota_tokens)} (off scale)", ha="right", va="top",
                fontsize=7, color=STATE_COLORS["failed"], transform=ax_tok.transAxes,
            )  # fmt: skip
    ax_tok.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: tokens(v)))
    if not drew:
        _waiting(ax_tok)

    _style(ax_cost, "cumulative cost (USD)")
    drew = _step(ax_cost, x, column(ev, "spend_usd"), "estimated", STATE_COLORS["submitting"])
    drew = _step(ax_cost, x, column(ev, "actual_usd"), "actual", STATE_COLORS["succeeded"]) or drew
    if estimated_cost_usd:
        ax_cost.axhline(estimated_cost_usd, color="#9e9e9e", linewidth=0.8, linestyle=":", label="plan")
    if budget_usd:
        ax_cost.axhline(budget_usd, color=STATE_COLORS["failed"], linewidth=1, linestyle="--", label="budget")
    if not drew:
        _waiting(ax_cost)
    ax_cost.set_ylim(bottom=0)
    ax_cost.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: usd(v)))

    _style(ax_done, "articles done")
    drew = _step(ax_done, x, _done(ev), "done", STATE_COLORS["collected"])
    if total_articles:
        ax_done.axhline(total_articles, color="#9e9e9e", linewidth=0.8, linestyle="--", label="total")
        ax_done.set_ylim(0, total_articles * 1.08)
    if not drew:
        _waiting(ax_done)

    for ax in (ax_tok, ax_cost, ax_done):
        ax.set_xlabel(unit, fontsize=7)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, loc="lower right", frameon=True, framealpha=0.8)
    buf = io.BytesIO()
    # No timestamp in the PNG metadata: equal charts give equal bytes (cheap change detection).
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
