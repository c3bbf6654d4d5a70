"""A run read once into plain figures (RunView), and its static HTML / text snapshot."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import pandas as pd

from gembatch.presentation import html_repr as _html

__all__ = ["RunView", "jobs_frame", "read_run", "view_fields", "view_html", "view_text"]

TERMINAL_RUN_STATES = frozenset({"done", "finished", "completed", "cancelled"})
_CHUNK_ORDER = (
    "submitting",
    "submitted",
    "planned",
    "failed",
    "expired",
    "cancelled",
    "succeeded",
    "collected",
)
_JOB_COLUMNS = ("state", "wave", "attempt", "articles", "est_tokens", "est_input_tokens", "batch_name")


@dataclasses.dataclass
class RunView:
    """What a panel shows of a run at one moment; every figure is optional."""

    run_id: str = ""
    run_dir: str = ""
    model: str = ""
    state: str = "unknown"
    done: bool = False
    articles: dict[str, int] = dataclasses.field(default_factory=dict)
    total_articles: int = 0
    chunks_by_state: dict[str, int] = dataclasses.field(default_factory=dict)
    estimated_usd: float | None = None
    committed_usd: float | None = None
    actual_usd: float | None = None
    budget_usd: float | None = None
    enqueued_tokens: float | None = None
    quota_tokens: float | None = None
    headroom: float | None = None
    cap_tokens: float | None = None
    jobs_in_flight: int | None = None
    eta_s: float | None = None
    chunks: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    events: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    error: str | None = None

    def key(self) -> tuple[object, ...]:
        """Changes on state transitions (run state, chunk states, article outcomes)."""
        return (
            self.state,
            self.done,
            tuple(sorted(self.chunks_by_state.items())),
            tuple(self.articles.items()),
        )


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    for name in ("to_dict", "_asdict"):
        method = getattr(obj, name, None)
        if callable(method):
            out = method()
            if isinstance(out, Mapping):
                return dict(out)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {}


def _first(d: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if d.get(name) is not None:
            return d[name]
    return None


def _num(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _frame(run: Any, name: str) -> pd.DataFrame:
    method = getattr(run, name, None)
    if not callable(method):
        return pd.DataFrame()
    out = method()
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)


def read_run(run: Any) -> RunView:
    """Read ``run.summary()``, ``run.chunks()`` and ``run.events()`` into a :class:`RunView`.

    Tolerant of missing methods and keys (see CONTRACTS "Requests from Widgets"): chunk and article
    counts fall back to the chunks frame when the summary lacks them.
    """
    summary = _as_dict(run.summary() if callable(getattr(run, "summary", None)) else None)
    chunks = _frame(run, "chunks")
    events = _frame(run, "events")
    plan = getattr(run, "plan", None)
    view = RunView(chunks=chunks, events=events)
    view.run_id = str(_first(summary, "run_id") or getattr(run, "run_id", "") or "")
    view.run_dir = str(_first(summary, "run_dir") or getattr(run, "run_dir", "") or "")
    view.model = str(_first(summary, "model") or getattr(plan, "model", "") or "")

    articles = _as_dict(_first(summary, "articles"))
    for status in ("succeeded", "failed", "pending"):
        value = articles.get(status, summary.get(status))
        if value is not None:
            view.articles[status] = int(value)
    if not view.articles and "articles" in chunks.columns and "state" in chunks.columns:
        done = chunks[chunks["state"].isin(["succeeded", "collected"])]["articles"].sum()
        view.articles = {"succeeded": int(done), "pending": int(chunks["articles"].sum() - done)}
    total = _first(articles, "total") or _first(summary, "total_articles", "n_articles")
    if total is None and isinstance(summary.get("articles"), int | float):
        total = summary["articles"]
    view.total_articles = int(total) if total is not None else sum(view.articles.values())

    by_state = _first(summary, "chunks", "chunks_by_state")
    if isinstance(by_state, Mapping):
        view.chunks_by_state = {str(k): int(v) for k, v in by_state.items() if v}
    elif "state" in chunks.columns:
        view.chunks_by_state = {str(k): int(v) for k, v in chunks["state"].value_counts().items()}

    view.estimated_usd = _num(_first(summary, "cost_estimated_usd", "estimated_usd", "est_cost_usd"))
    if view.estimated_usd is None and "est_cost_usd" in chunks.columns and "attempt" not in chunks.columns:
        view.estimated_usd = float(chunks["est_cost_usd"].sum())
    view.committed_usd = _num(_first(summary, "cost_committed_usd", "committed_usd", "spend_usd"))
    view.actual_usd = _num(_first(summary, "cost_actual_usd", "actual_usd", "cost_usd"))
    view.budget_usd = _num(_first(summary, "budget_usd")) or _num(getattr(plan, "budget_usd", None))
    view.enqueued_tokens = _num(_first(summary, "enqueued_tokens", "in_flight_tokens"))
    view.quota_tokens = _num(_first(summary, "quota_tokens")) or _num(getattr(plan, "quota_tokens", None))
    view.headroom = _num(_first(summary, "headroom")) or _num(getattr(plan, "headroom", None))
    view.cap_tokens = _num(_first(summary, "enqueued_cap", "cap_tokens")) or _num(
        getattr(plan, "cap_tokens", None)
    )

    jobs = _num(_first(summary, "jobs_in_flight"))
    view.jobs_in_flight = None if jobs is None else int(jobs)
    view.eta_s = _num(_first(summary, "eta_s"))
    pending = view.articles.get("pending")
    state = _first(summary, "state", "status")
    finished = _first(summary, "done", "finished", "complete")
    if finished is None:
        finished = pending == 0 and view.total_articles > 0
    # a cancelled run with no job left in flight changes no more, even with articles pending
    in_flight = sum(view.chunks_by_state.get(s, 0) for s in ("submitting", "submitted"))
    view.done = bool(finished) or (str(state) in TERMINAL_RUN_STATES and not in_flight)
    view.state = str(state) if state else ("done" if view.done else "running")
    return view


def jobs_frame(chunks: pd.DataFrame) -> pd.DataFrame:
    """The jobs table: a few columns of the chunks, jobs in flight first, then waiting, then finished."""
    if chunks.empty:
        return chunks
    cols = [c for c in _JOB_COLUMNS if c in chunks.columns]
    jobs = chunks[cols] if cols else chunks
    if "state" in jobs.columns:
        rank = {s: i for i, s in enumerate(_CHUNK_ORDER)}
        order = jobs["state"].map(lambda s: rank.get(str(s), len(rank))).to_numpy()
        jobs = jobs.iloc[order.argsort(kind="stable")]
    return jobs


def view_fields(view: RunView) -> dict[str, object]:
    """The labelled figures shown in the header of the monitor (HTML-safe values)."""
    total = view.total_articles
    done = view.articles.get("succeeded", 0) + view.articles.get("failed", 0)
    fields: dict[str, object] = {
        "articles": f"{_html.count(done)} / {_html.count(total)} done ({_html.pct(done, total)})",
        # committed = settled + in-flight jobs priced at submit: the "estimated" line of the cost chart
        "cost committed": _html.usd(
            view.committed_usd if view.committed_usd is not None else view.estimated_usd
        ),
        "cost actual": _html.usd(view.actual_usd),
    }
    if view.estimated_usd is not None:
        fields["plan estimate"] = _html.usd(view.estimated_usd)
    if view.budget_usd:
        fields["budget"] = _html.usd(view.budget_usd)
    limit, name = (view.cap_tokens, "cap") if view.cap_tokens else (view.quota_tokens, "quota")
    if view.enqueued_tokens is not None or limit:
        fields["enqueued"] = f"{_html.tokens(view.enqueued_tokens)} of {_html.tokens(limit)} {name}"
    if view.jobs_in_flight is not None:
        fields["jobs in flight"] = _html.count(view.jobs_in_flight)
    if view.eta_s and not view.done:
        fields["ETA"] = f"{view.eta_s / 60:.1f} min" if view.eta_s >= 60 else f"{view.eta_s:.0f} s"
    if view.error:
        fields["error"] = view.error
    return fields


def view_html(view: RunView, chart_png: bytes | None = None, *, title: str = "gembatch run") -> str:
    """The monitor's static snapshot: state, progress bars, figures, chart (inline PNG), jobs table."""
    sections = {
        "articles": _html.progress_bar(view.articles, view.total_articles or None),
        "chunks": _html.progress_bar(view.chunks_by_state),
        "charts": _html.png_img(chart_png, "enqueued tokens, cost and articles done over time"),
    }
    subtitle = " · ".join(x for x in (view.run_id, view.model) if x)
    jobs = jobs_frame(view.chunks)
    return _html.render(
        title,
        max_cell=32,
        subtitle=subtitle,
        badges=[view.state],
        fields=view_fields(view),
        sections=sections,
        tables={"jobs": jobs} if not jobs.empty else None,
        max_rows=10,
        footer=view.run_dir or None,
    )


def view_text(view: RunView, *, title: str = "gembatch run") -> str:
    """The plain-text snapshot (``text/plain``)."""
    fields: dict[str, object] = {"state": view.state, **view_fields(view)}
    if view.chunks_by_state:
        fields["chunks"] = ", ".join(f"{k} {v}" for k, v in view.chunks_by_state.items())
    subtitle = " · ".join(x for x in (view.run_id, view.model) if x) or None
    return _html.render_text(title, subtitle=subtitle, fields=fields)
