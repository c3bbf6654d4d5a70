"""A run read once (its RunSummary, chunks and events) and the monitor's static HTML / text snapshot."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from gembatch.presentation import html_repr
from gembatch.presentation.summary_view import badge, summary_fields, summary_text
from gembatch.runs.summary import RunSummary

__all__ = ["RunView", "jobs_frame", "read_run", "view_fields", "view_html", "view_text"]

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
_JOB_COLUMNS = [
    "state",
    "wave",
    "attempt",
    "articles",
    "est_input_tokens",
    "est_cost_usd",
    "error",
    "batch_name",
]


@dataclasses.dataclass(frozen=True)
class RunView:
    """What a panel shows of a run at one moment: its summary, chunks and events."""

    summary: RunSummary | None = None
    run_dir: str = ""
    chunks: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    events: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

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
        """Changes on state transitions (run state, chunk states, article outcomes, last error)."""
        s = self.summary
        last_error = None if s is None else s.last_error
        return (self.state, self.done, tuple(sorted(self.chunks_by_state.items())),
                tuple(self.articles.items()), last_error)  # fmt: skip


def read_run(run: Any) -> RunView:
    """Read ``run.summary()``, ``run.chunks()`` and ``run.events()`` of a :class:`gembatch.Run`."""
    return RunView(summary=run.summary(), run_dir=str(run.run_dir), chunks=run.chunks(), events=run.events())


def jobs_frame(chunks: pd.DataFrame) -> pd.DataFrame:
    """The jobs table: a few columns of the chunks, jobs in flight first, then waiting, then finished."""
    if chunks.empty:
        return chunks
    jobs = chunks[_JOB_COLUMNS]
    rank = {s: i for i, s in enumerate(_CHUNK_ORDER)}
    order = jobs["state"].map(lambda s: rank.get(str(s), len(rank))).to_numpy()
    return jobs.iloc[order.argsort(kind="stable")]


def view_fields(view: RunView) -> dict[str, str]:
    """The labelled figures of the run (the same as ``summary_text`` shows)."""
    return {} if view.summary is None else summary_fields(view.summary)


def _subtitle(s: RunSummary) -> str:
    return " · ".join(x for x in (s.run_id, s.model) if x)


def view_html(view: RunView, chart_png: bytes | None = None, *, title: str = "gembatch run") -> str:
    """The monitor's static snapshot: state, progress bars, figures, chart (inline PNG), jobs table."""
    s = view.summary
    if s is None:
        return html_repr.render(title, badges=["unknown"], footer=view.run_dir or None)
    sections = {
        "articles": html_repr.progress_bar(view.articles, s.articles or None),
        "chunks": html_repr.progress_bar(view.chunks_by_state),
        "charts": html_repr.png_img(chart_png, "enqueued tokens, cost and articles done over time"),
    }
    jobs = jobs_frame(view.chunks)
    return html_repr.render(
        title,
        max_cell=32,
        subtitle=_subtitle(s),
        badges=[badge(s)],
        fields=view_fields(view),
        sections=sections,
        tables={"jobs": jobs} if not jobs.empty else None,
        max_rows=10,
        footer=view.run_dir or None,
    )


def view_text(view: RunView, *, title: str = "gembatch run") -> str:
    """The plain-text snapshot (``text/plain``)."""
    if view.summary is None:
        return f"{title} — unknown"
    return summary_text(view.summary, view.run_dir)
