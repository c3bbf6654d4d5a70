"""HTML sections of the monitor: the headline strip, the last event, the event log, the compact line."""

from __future__ import annotations

import time

import pandas as pd

from gembatch.presentation import formatters as fmt
from gembatch.presentation import html_repr
from gembatch.presentation.summary_view import badge, eta_text, headline
from gembatch.runs.summary import RunSummary

__all__ = [
    "compact_text",
    "details_html",
    "events_table",
    "failures_html",
    "headline_html",
    "last_event_html",
]

_RED = "#e53935"
_CELL = "display:inline-block;padding:2px 18px 4px 0;vertical-align:top;text-align:left;max-width:330px"
_LABEL = "font-size:11px;opacity:.7;text-transform:uppercase;letter-spacing:.04em"
_BIG = "font-size:17px;font-weight:600"
_SMALL = "font-size:12px;opacity:.85"


def _cell(label: str, big: str, small: str = "", color: str | None = None) -> str:
    tint = f";color:{color}" if color else ""
    extra = f'<br/><span style="{_SMALL}">{html_repr.esc(small, 120)}</span>' if small else ""
    return (
        f'<div class="gb-head-{html_repr.esc(label.replace(" ", "-"), 20)}" style="{_CELL}">'
        f'<span style="{_LABEL}">{html_repr.esc(label, 30)}</span><br/>'
        f'<span style="{_BIG}{tint}">{html_repr.esc(big, 60)}</span>{extra}</div> '
    )


def headline_html(s: RunSummary) -> html_repr.Html:
    """The headline strip: done, failed (red), time and ETA, spend, enqueued tokens, jobs in flight."""
    h = headline(s)
    eta = eta_text(s)
    elapsed = fmt.duration(s.elapsed_s) if s.elapsed_s is not None else "—"
    budget = "no budget" if s.budget_usd is None else f"budget {fmt.usd(s.budget_usd)}"
    cap = f"of {fmt.tokens(s.enqueued_cap)} cap" + (
        f" (quota {fmt.tokens(s.quota_tokens)})" if s.quota_tokens else ""
    )
    cells = [
        _cell("done", f"{fmt.count(s.finished)} / {fmt.count(s.articles)}", h["left"]),
        _cell("failed", fmt.count(s.failed), "articles" if s.failed else "none", _RED if s.failed else None),
        _cell("elapsed", elapsed, f"ETA {eta}" if eta else ("finished" if s.done else "")),
        _cell("spend", fmt.usd(s.cost_actual_usd),
              f"committed {fmt.usd(s.cost_committed_usd)} · plan {fmt.usd(s.cost_estimated_usd)} · {budget}"),
        _cell("enqueued", fmt.tokens(s.enqueued_tokens), f"tokens {cap}"),
        _cell("jobs", fmt.count(s.jobs_in_flight),
              "in flight" + (f" · {fmt.count(s.stragglers)} straggling" if s.stragglers else "")),
    ]  # fmt: skip
    return html_repr.Html(
        f'<table class="gb-headline" style="border-collapse:collapse"><tr>{"".join(cells)}</tr></table>'
    )


def failures_html(failures: pd.DataFrame) -> html_repr.Html:
    """One line per reason: how many articles, the reason in full, an example, and the code that
    selects them (wrapping, never cut)."""
    code_style = "font-size:11.5px;white-space:pre-wrap;word-break:break-all"
    rows = []
    for reason, row in failures.iterrows():
        n = int(row["articles"])
        many = f"{fmt.count(n)} article{'' if n == 1 else 's'}"
        example = f'<span style="opacity:.75">(e.g. {html_repr.esc(row["example"], 60)})</span>'
        code = f'<code style="{code_style}">{html_repr.esc(row["select them with"], 400)}</code>'
        rows.append(
            f'<li style="margin:.15em 0"><b style="color:{_RED}">{many}</b> — '
            f"{html_repr.esc(reason, 300)} {example}<br/>{code}</li>"
        )
    return html_repr.Html(
        f'<ul class="gb-failures" style="margin:.2em 0;padding-left:1.2em">{"".join(rows)}</ul>'
    )


def _clock(epoch: float | None) -> str:
    return "" if epoch is None else time.strftime("%H:%M:%S", time.localtime(epoch))


def last_event_html(s: RunSummary) -> html_repr.Html:
    """``13:44:50 submit_refused: 429 RESOURCE_EXHAUSTED …`` (the newest event of the run)."""
    when = _clock(s.last_event_at)
    return html_repr.Html(
        f'<div class="gb-last-event" style="{_SMALL};white-space:normal">'
        f"<code>{html_repr.esc(when, 10)}</code> {html_repr.esc(s.last_event or '', 240)}</div>"
    )


def details_html(summary: str, body: str) -> html_repr.Html:
    """A collapsed ``<details>`` block (kept by sanitisers; opens with a click, no script)."""
    return html_repr.Html(
        f'<details class="gb-details"><summary style="cursor:pointer">{html_repr.esc(summary, 80)}'
        f"</summary>{body}</details>"
    )


def events_table(events: pd.DataFrame, limit: int = 40) -> html_repr.Html:
    """The newest ``limit`` events, newest first: time, kind, chunk, message."""
    if events.empty:
        return html_repr.Html("")
    recent = events.tail(limit).iloc[::-1]
    times = pd.to_datetime(recent["time"], utc=True, errors="coerce")
    frame = pd.DataFrame(
        {
            "time": [_clock(t.timestamp()) if not pd.isna(t) else "—" for t in times],
            "kind": recent["kind"].astype(str),
            "job": recent["chunk_id"].fillna("").astype(str),
            "message": recent["message"].fillna("").astype(str),
        }
    ).set_index("time")
    return html_repr.frame_table(frame, max_rows=limit, max_cell=140)


def compact_text(s: RunSummary, width: int = 20) -> str:
    """One tqdm-like line of a run (scripts, small screens)."""
    blocks = " ▏▎▍▌▋▊▉█"
    fraction = s.finished / s.articles if s.articles else 0.0
    full, part = divmod(int(fraction * width * 8), 8)
    bar = ("█" * full + (blocks[part] if full < width else "")).ljust(width)
    eta = eta_text(s)
    elapsed = fmt.duration(s.elapsed_s) if s.elapsed_s is not None else "0 s"
    parts = [
        f"{s.run_id} ▕{bar}▏ {fmt.count(s.finished)}/{fmt.count(s.articles)}",
        f"{fmt.count(s.failed)} failed",
        f"{elapsed}" + (f" < {eta}" if eta else ""),
        f"{fmt.usd(s.cost_actual_usd)}",
        f"{fmt.count(s.jobs_in_flight)} jobs",
        badge(s),
    ]
    return " · ".join(parts)
