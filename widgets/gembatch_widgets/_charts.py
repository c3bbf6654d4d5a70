"""Run charts as PNG bytes from matplotlib's object-oriented Figure on the Agg canvas (never pyplot).

The charts are drawn at twice their display size (sharp on high-density screens) on a transparent
background with mid-grey text, so they read in JupyterLab's light and dark themes alike.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from gembatch.presentation.formatters import tokens, usd

__all__ = [
    "CHARTS",
    "CHART_CSS_WIDTH",
    "OUTCOME_COLORS",
    "SMALL_CHART_CSS",
    "column",
    "render_run_chart",
    "render_run_charts",
]

#: The CSS width (px) the chart is drawn for; the PNG holds ``scale`` × as many pixels.
CHART_CSS_WIDTH = 960
_INK = "#8a8a8a"  # text and axes: readable on white and on JupyterLab's dark grey
_GRID = (0.55, 0.55, 0.55, 0.25)
BLUE, GREEN, RED, ORANGE, PURPLE, GREY = "#1e88e5", "#43a047", "#e53935", "#fb8c00", "#8e24aa", "#9e9e9e"
#: Jobs timeline colours by outcome.
OUTCOME_COLORS = {
    "waiting": "#bdbdbd",  # refused at creation, to be sent again
    "in flight": BLUE,
    "succeeded": GREEN,
    "some articles failed": ORANGE,
    "failed": RED,
    "cancelled": GREY,
}


def column(events: pd.DataFrame, name: str) -> pd.Series | None:
    """``events[name]`` as floats (NaN for blanks), or ``None`` when the column is absent."""
    if name not in events.columns:
        return None
    return pd.to_numeric(events[name], errors="coerce").astype(float)


def _local(values: pd.Series) -> pd.Series:
    """UTC datetimes as naive local wall-clock times (what the badge and the event log show)."""
    times = pd.to_datetime(values, errors="coerce", utc=True)
    zone = dt.datetime.now().astimezone().tzinfo
    return times.dt.tz_convert(zone).dt.tz_localize(None)


def _style(ax: Axes, title: str) -> None:
    ax.set_title(title, fontsize=9, loc="left", color=_INK, fontweight="bold", pad=15)
    ax.set_facecolor("none")
    ax.tick_params(labelsize=7.5, colors=_INK, length=3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("bottom", "left"):
        ax.spines[side].set_color(_INK)
    ax.grid(color=_GRID, linewidth=0.6)


def _legend(ax: Axes) -> None:
    """Between the title and the plot: never on the newest data."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        legend = ax.legend(
            handles, labels, fontsize=7, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=len(handles),
            frameon=False, handlelength=1.4, columnspacing=0.9, borderaxespad=0.1, borderpad=0.1,
            handletextpad=0.4,
        )  # fmt: skip
        for text in legend.get_texts():
            text.set_color(_INK)


def _note(ax: Axes, text: str, color: str = _INK, y: float = 0.96) -> None:
    ax.text(0.99, y, text, ha="right", va="top", fontsize=7, color=color, transform=ax.transAxes)


def _waiting(ax: Axes) -> None:
    ax.text(0.5, 0.5, "waiting for events", ha="center", va="center", fontsize=8, color=_INK,
            transform=ax.transAxes)  # fmt: skip
    ax.set_yticks([])


def _time_axis(ax: Axes) -> None:
    locator = AutoDateLocator(minticks=2, maxticks=4)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))


def _step(ax: Axes, x: np.ndarray, y: pd.Series | None, label: str, color: str) -> bool:
    if y is None or not len(x):
        return False
    mask = y.notna().to_numpy()
    if not mask.any():
        return False
    ax.step(x[mask], y.to_numpy()[mask], where="post", label=label, color=color, linewidth=1.6)
    return True


def _money_axis(ax: Axes) -> None:
    """Every tick with the same number of decimals (``$0.010, $0.015``), as few as the step needs."""
    ticks = [t for t in ax.get_yticks() if t >= 0]
    step = min((b - a for a, b in itertools.pairwise(ticks) if b > a), default=1.0)
    decimals = min(max(2, -math.floor(math.log10(step)) + 1 if step > 0 else 2), 6)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"${v:,.{decimals}f}"))


def _done_chart(ax: Axes, x: np.ndarray, ev: pd.DataFrame, total: float | None) -> None:
    _style(ax, "articles done")
    succeeded, failed = column(ev, "succeeded"), column(ev, "failed")
    drew = False
    if succeeded is not None and failed is not None:
        drew = _step(ax, x, succeeded + failed, "done", GREEN)
        if failed.fillna(0).max() > 0:
            _step(ax, x, failed, "failed", RED)
    if total:
        ax.axhline(total, color=GREY, linewidth=1, linestyle="--", label=f"total {total:,.0f}")
        ax.set_ylim(0, total * 1.08)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    if not drew:
        _waiting(ax)


def _throughput_chart(ax: Axes, times: pd.Series, ev: pd.DataFrame) -> None:
    _style(ax, "throughput (articles/min)")
    succeeded, failed = column(ev, "succeeded"), column(ev, "failed")
    if succeeded is None or failed is None or times.isna().all() or len(ev) < 2:
        _waiting(ax)
        return
    done = (succeeded + failed).ffill().fillna(0.0).to_numpy()
    seconds = (times - times.min()).dt.total_seconds().to_numpy(dtype=float)
    span = float(seconds.max())
    if span <= 0 or done.max() <= 0:
        _waiting(ax)
        return
    bins = max(1, min(12, len(ev) // 3))
    edges = np.linspace(0.0, span, bins + 1)
    at_edges = np.interp(edges, seconds, done)
    rate = np.diff(at_edges) / (np.diff(edges) / 60.0)
    starts = times.min() + pd.to_timedelta(edges[:-1], unit="s")
    width = (edges[1] - edges[0]) / 86400.0
    ax.bar(date2num(starts.to_numpy()), rate, width=width, align="edge", color=PURPLE, alpha=0.8,
           label="finished per minute")  # fmt: skip
    ax.set_ylim(0, max(float(rate.max()) * 1.15, 1.0))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))


def _priced_at_submit(chunks: pd.DataFrame | None) -> tuple[np.ndarray, pd.Series] | None:
    """Each job's estimate from the moment it was submitted, summed: a series that never falls."""
    if chunks is None or chunks.empty or "est_cost_usd" not in chunks.columns:
        return None
    start = _first(chunks, "intent_at", "submitted_at")
    if start is None or start.isna().all():
        return None
    sent = pd.DataFrame({"t": _local(start), "usd": pd.to_numeric(chunks["est_cost_usd"], errors="coerce")})
    sent = sent.dropna().sort_values("t")
    return date2num(sent["t"].to_numpy()), sent["usd"].cumsum().astype(float).reset_index(drop=True)


def _cost_chart(
    ax: Axes,
    x: np.ndarray,
    *,
    ev: pd.DataFrame,
    plan: float | None,
    budget: float | None,
    chunks: pd.DataFrame | None = None,
) -> None:
    _style(ax, "spend")
    actual = column(ev, "actual_usd")
    committed: pd.Series | None = None
    priced = _priced_at_submit(chunks)
    if priced is not None and len(priced[0]):
        tx, committed = priced
        if len(x) and float(np.max(x)) > float(tx[-1]):  # held until the last event
            tx = np.append(tx, float(np.max(x)))
            committed = pd.concat([committed, committed.tail(1)], ignore_index=True)
        drew = _step(ax, tx, committed, "priced at submit", ORANGE)
    else:  # no chunks: the ledger's committed spend, as a running maximum (it never falls)
        committed = column(ev, "spend_usd")
        committed = None if committed is None else committed.ffill().fillna(0.0).cummax()
        drew = _step(ax, x, committed, "committed", ORANGE)
    drew = _step(ax, x, actual.ffill() if actual is not None else None, "actual", GREEN) or drew
    peak = max([float(s.max()) for s in (committed, actual) if s is not None and s.notna().any()] or [0.0])
    top = max(peak, plan or 0.0) * 1.15 or 1.0
    if plan:
        ax.axhline(plan, color=BLUE, linewidth=1.2, linestyle="--", label=f"plan {usd(plan)}")
    if budget:
        if budget <= top * 1.5:
            ax.axhline(budget, color=RED, linewidth=1.2, linestyle=":", label=f"budget {usd(budget)}")
            top = max(top, budget * 1.08)
        else:  # the budget would squash the spend into the bottom: name it instead
            _note(ax, f"budget {usd(budget)} (off scale)", RED)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
    _money_axis(ax)
    if not drew:
        _waiting(ax)


def _token_chart(ax: Axes, x: np.ndarray, ev: pd.DataFrame, quota: float | None, cap: float | None) -> None:
    _style(ax, "enqueued tokens")
    enq = column(ev, "enqueued_tokens")
    drew = _step(ax, x, enq, "enqueued", BLUE)
    peak = float(enq.max()) if enq is not None and enq.notna().any() else 0.0
    limit = cap or quota
    top = max(peak * 1.3, 1000.0)
    if limit and peak >= 0.05 * limit:
        top = max(top, (quota or limit) * 1.08)
        ax.axhline(limit, color=RED, linewidth=1.2, linestyle="--", label=f"cap {tokens(limit)}")
        if quota and cap and quota > cap:
            ax.axhline(quota, color=GREY, linewidth=0.9, linestyle=":", label=f"quota {tokens(quota)}")
    elif limit:  # a small run next to a big quota: keep the run readable, name the limits
        off = f"cap {tokens(limit)}" + (f" · quota {tokens(quota)}" if quota and quota != limit else "")
        _note(ax, f"{off} (off scale)", RED)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: tokens(v)))
    if not drew:
        _waiting(ax)


def _outcome(row: pd.Series) -> str:
    state = str(row.get("state", ""))
    if state == "planned":
        return "waiting"
    if state in ("submitting", "submitted"):
        return "in flight"
    if state == "cancelled":
        return "cancelled"
    failed = row.get("failed")
    if state in ("failed", "expired"):
        return "failed"
    if state in ("succeeded", "collected") and not pd.isna(failed) and int(failed) > 0:
        return "some articles failed"
    return "succeeded"


def _first(frame: pd.DataFrame, name: str, fallback: str) -> pd.Series | None:
    """``frame[name]``, blanks taken from ``frame[fallback]`` (either may be absent)."""
    if name not in frame.columns:
        return frame[fallback] if fallback in frame.columns else None
    values = pd.to_datetime(frame[name], utc=True)
    if fallback not in frame.columns:
        return values
    return values.where(values.notna(), pd.to_datetime(frame[fallback], utc=True))


def _jobs_chart(ax: Axes, chunks: pd.DataFrame | None, now: pd.Timestamp, limit: int = 120) -> None:
    _style(ax, "jobs (submitted → collected)")
    if chunks is None or chunks.empty or "intent_at" not in chunks.columns:
        _waiting(ax)
        return
    start = _first(chunks, "submitted_at", "intent_at")
    if start is None or start.isna().all():
        _waiting(ax)
        return
    jobs = chunks.assign(_start=start).dropna(subset=["_start"]).sort_values("_start").tail(limit)
    begin = _local(jobs["_start"])
    ended = _first(jobs, "collected_at", "finished_at")
    end = _local(ended) if ended is not None else pd.Series(pd.NaT, index=jobs.index)
    end = end.where(end.notna(), now.to_datetime64())
    outcomes = jobs.apply(_outcome, axis=1)
    y = np.arange(len(jobs))
    left = date2num(begin.to_numpy())
    width = np.maximum(date2num(end.to_numpy()) - left, 1.0 / 86400)
    colors = [OUTCOME_COLORS[o] for o in outcomes]
    ax.barh(y, width, left=left, height=0.8, color=colors, linewidth=0)
    for outcome, color in OUTCOME_COLORS.items():
        if (outcomes == outcome).any():
            ax.barh([0], [0], left=left[:1], color=color, label=outcome)
    ax.set_ylim(-0.6, len(jobs) - 0.4)
    ax.invert_yaxis()
    ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5, min_n_ticks=1))
    ax.set_ylabel(f"job (newest {len(jobs)})" if len(chunks) > limit else "job", fontsize=7, color=_INK)
    _time_axis(ax)


def render_run_chart(
    events: pd.DataFrame | None,
    *,
    quota_tokens: float | None = None,
    headroom: float | None = None,
    cap_tokens: float | None = None,
    estimated_cost_usd: float | None = None,
    budget_usd: float | None = None,
    total_articles: float | None = None,
    chunks: pd.DataFrame | None = None,
    done_run: bool = False,
    width: float = 9.6,
    height: float = 4.6,
    scale: float = 2.0,
) -> bytes:
    """The charts of one run as PNG bytes, ``width`` × ``height`` inches at 100 px per inch × ``scale``.

    Top: articles done (failed in red) against the total; throughput (articles finished per
    minute); the jobs timeline (one bar per job from submission to collection, coloured by
    outcome; needs ``chunks``, the frame of ``Run.chunks()``). Bottom: spend — every job's estimate
    summed from its submission (priced at submit: never falls) and the actual, settled spend, with
    the plan and the budget (named when it is off scale); enqueued tokens against the scheduler's
    cap (quota × ``headroom``) and the quota.
    The time axis is wall-clock (local time), up to now while the run goes on (``done_run``: up
    to its last event). Missing columns leave their chart blank.

    >>> png = render_run_chart(None, quota_tokens=10_000_000)
    >>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
    True
    """
    fig = Figure(figsize=(width, height), dpi=100 * scale, layout="constrained")
    grid = fig.add_gridspec(2, 3)
    axes = {
        "done": fig.add_subplot(grid[0, 0]),
        "throughput": fig.add_subplot(grid[0, 1]),
        "jobs": fig.add_subplot(grid[:, 2]),
        "spend": fig.add_subplot(grid[1, 0]),
        "tokens": fig.add_subplot(grid[1, 1]),
    }
    _draw(axes, events, quota_tokens=quota_tokens, headroom=headroom, cap_tokens=cap_tokens,
          estimated_cost_usd=estimated_cost_usd, budget_usd=budget_usd, total_articles=total_articles,
          chunks=chunks, done_run=done_run)  # fmt: skip
    return _png(fig)


#: The charts of :func:`render_run_charts`, in display order.
CHARTS = ("done", "throughput", "jobs", "spend", "tokens")
#: The CSS size (px) of each chart of :func:`render_run_charts`: small enough for two side by side
#: in a 900 px window, drawn at ``scale`` × as many pixels.
SMALL_CHART_CSS = (310, 230)


def render_run_charts(events: pd.DataFrame | None, *, scale: float = 2.0, **figures: Any) -> dict[str, bytes]:
    """The charts of :func:`render_run_chart` as separate PNGs (``CHARTS`` order), each
    :data:`SMALL_CHART_CSS` pixels: they wrap to the width of the window and stay at their real size.

    ``figures`` are the keywords of :func:`render_run_chart` (quota, cap, costs, budget, chunks…).

    >>> sorted(render_run_charts(None)) == sorted(CHARTS)
    True
    """
    out: dict[str, bytes] = {}
    made: dict[str, tuple[Figure, Axes]] = {}
    for name in CHARTS:
        fig = Figure(figsize=(SMALL_CHART_CSS[0] / 100, SMALL_CHART_CSS[1] / 100), dpi=100 * scale,
                     layout="constrained")  # fmt: skip
        made[name] = (fig, fig.add_subplot())
    _draw({name: ax for name, (_fig, ax) in made.items()}, events, **figures)
    for name, (fig, _ax) in made.items():
        out[name] = _png(fig)
    return out


def _draw(
    axes: dict[str, Axes],
    events: pd.DataFrame | None,
    *,
    quota_tokens: float | None = None,
    headroom: float | None = None,
    cap_tokens: float | None = None,
    estimated_cost_usd: float | None = None,
    budget_usd: float | None = None,
    total_articles: float | None = None,
    chunks: pd.DataFrame | None = None,
    done_run: bool = False,
) -> None:
    ev = events if events is not None else pd.DataFrame()
    times = _local(ev["time"]) if "time" in ev.columns and len(ev) else pd.Series([], dtype="datetime64[ns]")
    x = date2num(times.to_numpy()) if len(times) and times.notna().all() else np.arange(len(ev), dtype=float)
    if cap_tokens is None and quota_tokens and headroom:
        cap_tokens = quota_tokens * headroom
    _done_chart(axes["done"], x, ev, total_articles)
    _throughput_chart(axes["throughput"], times, ev)
    _cost_chart(axes["spend"], x, ev=ev, plan=estimated_cost_usd, budget=budget_usd, chunks=chunks)
    _token_chart(axes["tokens"], x, ev, quota_tokens, cap_tokens)
    now = pd.Timestamp(dt.datetime.now())
    _jobs_chart(axes["jobs"], chunks, now)
    timed = bool(len(times)) and bool(times.notna().all())
    span = None
    if timed and len(x):
        lo = float(np.min(x))
        hi = max(float(np.max(x)), date2num(now.to_datetime64()) if not done_run else 0.0, lo + 30 / 86400)
        span = (lo, hi)
    for ax in axes.values():
        _legend(ax)
        if span is not None:  # one wall-clock axis for every chart
            _time_axis(ax)
            ax.set_xlim(*span)


def _png(fig: Figure) -> bytes:
    fig.patch.set_alpha(0.0)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    # No timestamp in the PNG metadata: equal charts give equal bytes (cheap change detection).
    fig.savefig(buf, format="png", metadata={"Software": None}, transparent=True)
    return buf.getvalue()
