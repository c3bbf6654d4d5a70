"""A run read once (its RunSummary, chunks, events, failures) and the monitor's static snapshot."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

from gembatch.presentation import formatters as fmt
from gembatch.presentation import html_repr
from gembatch.presentation.summary_view import badge, badge_tone, summary_fields, summary_text
from gembatch.runs.summary import RunSummary
from gembatch_widgets import _sections as sections
from gembatch_widgets._charts import CHART_CSS_WIDTH, SMALL_CHART_CSS

__all__ = [
    "RunView",
    "compact_line",
    "failure_table",
    "jobs_frame",
    "read_run",
    "view_fields",
    "view_html",
    "view_text",
]

_IN_FLIGHT = ("submitting", "submitted")
_RANK = {"straggling": 0, "submitting": 1, "submitted": 1, "planned": 2, "failed": 3, "expired": 3,
         "cancelled": 4, "succeeded": 5, "collected": 6}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class RunView:
    """What a panel shows of a run at one moment: its summary, chunks, events and failed articles."""

    summary: RunSummary | None = None
    run_dir: str = ""
    chunks: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    events: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    failures: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)  # failed rows of results()
    read_at: float = 0.0

    @property
    def state(self) -> str:
        return "unknown" if self.summary is None else self.summary.state

    @property
    def done(self) -> bool:
        return self.summary is not None and self.summary.done

    @property
    def articles(self) -> dict[str, int]:
        """Articles by outcome: succeeded, failed, pending."""
        s = self.summary
        return {} if s is None else {"succeeded": s.succeeded, "failed": s.failed, "pending": s.pending}

    @property
    def chunks_by_state(self) -> dict[str, int]:
        return {} if self.summary is None else {k: v for k, v in self.summary.chunks.items() if v}

    def key(self) -> tuple[object, ...]:
        """Changes on state transitions (run state, badge, chunk states, article outcomes, last error)."""
        s = self.summary
        last_error = None if s is None else s.last_error
        shown = None if s is None else badge(s)
        return (self.state, shown, self.done, tuple(sorted(self.chunks_by_state.items())),
                tuple(self.articles.items()), last_error)  # fmt: skip


def read_run(run: Any, previous: RunView | None = None) -> RunView:
    """Read a :class:`gembatch.Run`: summary, chunks, events, and its failed articles when they changed."""
    summary = run.summary()
    failures = pd.DataFrame()
    if summary.failed:
        same = previous is not None and previous.summary is not None
        if same and previous.summary.failed == summary.failed:  # type: ignore[union-attr]
            failures = previous.failures  # type: ignore[union-attr]
        else:
            results = run.results()
            failures = results[results["status"] == "failed"]
    return RunView(summary=summary, run_dir=str(run.run_dir), chunks=run.chunks(), events=run.events(),
                   failures=failures, read_at=time.time())  # fmt: skip


def _age(row: pd.Series, now: pd.Timestamp) -> float | None:
    start = row.get("submitted_at")
    if pd.isna(start):
        start = row.get("intent_at")
    if pd.isna(start):
        return None
    end = row.get("collected_at")
    if pd.isna(end):
        end = row.get("finished_at")
    end = now if pd.isna(end) else end
    return float((end - start).total_seconds())


def jobs_frame(
    chunks: pd.DataFrame, summary: RunSummary | None = None, now: float | None = None
) -> pd.DataFrame:
    """The jobs table: straggling and in-flight jobs first, then waiting, then finished (newest first).

    Columns: state (``straggling`` for a job in flight longer than the observed p90 turnaround),
    age (in flight: since submission; finished: its turnaround), articles, tokens (actual, else
    estimated), cost (actual, else estimated), error.
    """
    if chunks.empty:
        return pd.DataFrame()
    stamp = pd.Timestamp(now if now is not None else time.time(), unit="s", tz="UTC")
    p90 = None if summary is None else summary.turnaround_p90_s
    ages = pd.Series([_age(row, stamp) for _, row in chunks.iterrows()], index=chunks.index, dtype=float)
    state = chunks["state"].astype(str)
    if p90 is not None:
        straggling = state.isin(_IN_FLIGHT) & (ages.astype(float) > p90)
        state = state.where(~straggling, "straggling")
    tokens_used = chunks["input_tokens"].astype("Float64").fillna(0) + chunks["output_tokens"].astype(
        "Float64"
    ).fillna(0)
    tokens = tokens_used.where(tokens_used > 0, chunks["est_input_tokens"].astype("Float64"))
    cost = chunks["cost_usd"].astype("Float64").where(chunks["cost_usd"].notna(), chunks["est_cost_usd"])
    jobs = pd.DataFrame(
        {
            "state": state,
            "age": [fmt.duration(a) if a is not None and not pd.isna(a) else "—" for a in ages],
            "articles": chunks["articles"],
            "tokens": [fmt.tokens(t) if not pd.isna(t) else "—" for t in tokens],
            "cost": [fmt.usd(float(c)) if not pd.isna(c) else "—" for c in cost],
            "failed": chunks["failed"],
            "error": chunks["error"].fillna(""),
        },
        index=chunks.index,
    )
    rank = state.map(lambda s: _RANK.get(s, len(_RANK))).to_numpy()
    age_key = -pd.to_numeric(ages, errors="coerce").fillna(0).to_numpy()
    order = sorted(range(len(jobs)), key=lambda i: (rank[i], age_key[i] if rank[i] <= 1 else -i))
    return jobs.iloc[order]


def failure_table(view: RunView, limit: int = 8) -> pd.DataFrame:
    """Failed articles by reason: count, an example article and the line of code that selects them."""
    s = view.summary
    if s is None or not s.failure_reasons:
        return pd.DataFrame()
    failures = view.failures
    rows = []
    for reason, n in sorted(s.failure_reasons.items(), key=lambda kv: -kv[1])[:limit]:
        example = "—"
        if not failures.empty and "error" in failures.columns:
            match = failures.index[failures["error"].fillna("unknown").astype(str) == reason]
            example = str(match[0]) if len(match) else "—"
        head = reason if len(reason) <= 40 else reason[:40]
        test = "r.error == " + repr(reason) if head == reason else f"r.error.str.startswith({head!r})"
        code = f'run.results().loc[lambda r: (r.status == "failed") & ({test})]'
        rows.append({"reason": reason, "articles": n, "example": example, "select them with": code})
    return pd.DataFrame(rows).set_index("reason")


def view_fields(view: RunView) -> dict[str, str]:
    """The labelled figures of the run (the same as ``summary_text`` shows)."""
    return {} if view.summary is None else summary_fields(view.summary)


def _subtitle(s: RunSummary) -> str:
    return " · ".join(x for x in (s.run_id, s.model) if x)


def _charts_html(charts: bytes | Mapping[str, bytes] | None) -> html_repr.Html:
    alt = "articles done, throughput, jobs, spend and enqueued tokens over time"
    if not isinstance(charts, Mapping):
        return html_repr.png_img(charts, alt, width=CHART_CSS_WIDTH)
    images = "".join(
        f'<span style="display:inline-block;margin:0 12px 4px 0">'
        f"{html_repr.png_img(png, name, width=SMALL_CHART_CSS[0])}</span>"
        for name, png in charts.items()
    )
    return (
        html_repr.Html(f'<div class="gb-charts">{images}</div>') if images else html_repr.png_img(None, alt)
    )


def view_html(
    view: RunView, chart_png: bytes | Mapping[str, bytes] | None = None, *, title: str = "gembatch run"
) -> str:
    """The monitor's static snapshot: badge, headline, last event, failures, charts, jobs, events.

    Escaped, styled inline (no ``<style>`` block), kept away from MathJax, and readable as plain
    tables where a sanitiser strips every style.
    """
    s = view.summary
    if s is None:
        return html_repr.render(title, badges=["unknown"], footer=view.run_dir or None)
    parts: dict[str, html_repr.Html] = {
        "": sections.headline_html(s),
        "articles": html_repr.progress_bar(view.articles, s.articles or None),
    }
    if s.last_event:
        parts["last event"] = sections.last_event_html(s)
    failures = failure_table(view)
    if not failures.empty:
        parts["failures by reason"] = sections.failures_html(failures)
    parts["charts"] = _charts_html(chart_png)
    jobs = jobs_frame(view.chunks, s, view.read_at or None)
    if not jobs.empty:
        parts[f"jobs ({fmt.count(len(jobs))})"] = html_repr.frame_table(jobs, max_rows=10, max_cell=60)
    parts["details"] = sections.details_html("all figures", html_repr.kv_table(view_fields(view)))
    if not view.events.empty:
        parts["event log"] = sections.details_html(
            f"{fmt.count(len(view.events))} events, newest first", sections.events_table(view.events)
        )
    return html_repr.render(
        title,
        subtitle=_subtitle(s),
        badges=[html_repr.state_badge(badge(s), tone=badge_tone(s))],
        sections=parts,
        footer=view.run_dir or None,
    )


def view_text(view: RunView, *, title: str = "gembatch run") -> str:
    """The plain-text snapshot (``text/plain``)."""
    if view.summary is None:
        return f"{title} — unknown"
    return summary_text(view.summary, view.run_dir)


def compact_line(view: RunView, width: int = 20) -> str:
    """One tqdm-like line: ``run ▕████▌    ▏ 1,996/2,000 · 4 failed · 1.8 min < 20–45 s · $0.02 · state``."""
    s = view.summary
    if s is None:
        return "gembatch run — unknown"
    return sections.compact_text(s, width)
