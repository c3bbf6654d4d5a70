"""``RunSummary``: the one typed picture of a run that every face renders (text, HTML, JSON, panels)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RUN_STATES", "RunSummary"]

#: What ``RunSummary.state`` can be: ``budget`` means stopped by ``budget_usd`` with articles pending.
RUN_STATES = ("running", "paused", "done", "budget", "cancelled")


@dataclass(frozen=True)
class RunSummary:
    """Counts, tokens, costs, quota use, timing and the last problem of one run.

    ``state`` is one of :data:`RUN_STATES`; ``cancelled`` holds from :meth:`Run.cancel` on, while
    ``done`` turns true once nothing more will happen. Costs: ``cost_actual_usd`` is settled from
    reported usage, ``cost_committed_usd`` adds the estimates of jobs in flight (what the budget
    guards), ``cost_estimated_usd`` is the plan's estimate for the whole run.

    Examples
    --------
    >>> s = run.summary()                    # doctest: +SKIP
    >>> s.succeeded, s.cost_actual_usd       # doctest: +SKIP
    >>> s.to_dict()                          # JSON-able  # doctest: +SKIP
    """

    run_id: str
    model: str
    tier: str
    policy: str
    mode: str
    state: str
    done: bool
    articles: int
    succeeded: int
    failed: int
    pending: int
    chunks: dict[str, int] = field(default_factory=dict)
    jobs_in_flight: int = 0
    enqueued_tokens: int = 0
    enqueued_cap: int = 0
    quota_tokens: int = 0
    headroom: float = 0.9
    token_ratio: float = 1.0
    est_input_tokens: int = 0
    est_output_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    thoughts_tokens: int = 0
    cost_estimated_usd: float = 0.0
    cost_actual_usd: float = 0.0
    cost_committed_usd: float = 0.0
    budget_usd: float | None = None
    started_at: float | None = None  # epoch seconds of the first submission intent
    elapsed_s: float | None = None  # since ``started_at``, up to the end when done
    eta_s: float | None = None
    backoff_until: float | None = None  # epoch seconds: submission paused after a refusal
    last_error: str | None = None  # the newest error or refusal, as recorded in the events
    last_error_at: float | None = None
    failure_reasons: dict[str, int] = field(default_factory=dict)  # failed articles by reason
    # An honest ETA: a range from the observed throughput and the jobs still in flight (see
    # ``gembatch.runs.summarize``); frozen while paused. ``None`` until the first results arrive.
    eta_low_s: float | None = None
    eta_high_s: float | None = None
    paused_at: float | None = None  # epoch seconds of the pause, while paused
    throughput_per_min: float | None = None  # articles finished per minute so far
    turnaround_p50_s: float | None = None  # observed job turnaround (submitted → finished)
    turnaround_p90_s: float | None = None
    stragglers: int = 0  # jobs in flight for longer than the observed p90 turnaround
    last_event: str | None = None  # the newest event, as "kind: message"
    last_event_at: float | None = None
    cache_hits: int = 0  # articles answered from the response cache when the run was created
    cache_misses: int = 0  # articles the run had to send (0 with the cache off)
    cache_saved_usd: float = 0.0  # what the cached answers cost when they were paid for
    deadline_at: float | None = None  # epoch seconds: jobs that would miss it go through real time
    deadline_note: str | None = None  # the last switch to real time the deadline made
    leftovers: int = 0  # files or jobs the run may still hold at the service (deletes owed)
    result_tables: list[str] = field(default_factory=list)  # results kept in BigQuery (bq:// URIs)

    @property
    def finished(self) -> int:
        """Articles with a final outcome (succeeded or failed)."""
        return self.succeeded + self.failed

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict (what ``gembatch status --json`` and the REST API return)."""
        return dataclasses.asdict(self)

    def __getitem__(self, key: str) -> Any:
        """``summary["state"]`` still works (older code indexed a dict); unknown keys raise KeyError."""
        if key not in _FIELDS:
            raise KeyError(key)
        return getattr(self, key)


_FIELDS = frozenset(f.name for f in dataclasses.fields(RunSummary))
