"""The rules every driver shares: what an answer does to an article, and when a run is done (and why)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gembatch.runs.store import RunStore, WorkLeft

__all__ = [
    "ATTEMPT_FREE_CANCELS",
    "ArticleOutcome",
    "DoneReason",
    "article_outcome",
    "attempt_free",
    "finish",
    "is_done",
]

DoneReason = Literal["complete", "budget", "cancelled"]

#: Cancel reasons that withdraw a job for the scheduler's own sake (``hedge``: a straggler cancelled
#: to be sent again; ``watchdog``: a job pending past ``pending_limit_s``): its unanswered articles
#: wait again without spending an attempt.
ATTEMPT_FREE_CANCELS = frozenset({"hedge", "watchdog"})


def attempt_free(cancel_reason: str | None) -> bool:
    """True when a job cancelled for ``cancel_reason`` costs its articles no attempt."""
    return cancel_reason in ATTEMPT_FREE_CANCELS


@dataclass(frozen=True)
class ArticleOutcome:
    """Where one answer leaves its article: ``succeeded``, ``failed`` (with the reason) or ``pending``
    (``requeue``: it waits for another attempt)."""

    status: Literal["succeeded", "failed", "pending"]
    requeue: bool
    error: str | None
    refund: bool = False  # the attempt this answer was sent under does not count (``withdrawn``)

    def as_row(self) -> tuple[str, int, str | None]:
        return self.status, int(self.requeue), self.error


def article_outcome(
    result: Literal["succeeded", "retryable", "failed", "withdrawn"],
    error: str | None,
    tries: int,
    max_attempts: int,
) -> ArticleOutcome:
    """The one rule: a success is final; a ``withdrawn`` article (its job cancelled for an
    attempt-free reason, see :data:`ATTEMPT_FREE_CANCELS`) waits again with its attempt given back;
    a retryable answer re-queues the article while it has attempts left; anything else fails it,
    saying why (and after how many attempts)."""
    if result == "succeeded":
        return ArticleOutcome("succeeded", False, None)
    if result == "withdrawn":
        return ArticleOutcome("pending", True, error, refund=True)
    if result == "retryable" and tries < max_attempts:
        return ArticleOutcome("pending", True, error)
    why = error if result == "failed" else f"gave up after {tries} attempts: {error}"
    return ArticleOutcome("failed", False, why)


def is_done(work: WorkLeft, *, cancelled: bool) -> bool:
    """Nothing more will happen: no chunk busy (after a cancel: no job in flight) and nothing re-queued
    (a cancelled run leaves its re-queued articles pending)."""
    busy = work.in_flight if cancelled else work.busy_chunks
    return busy == 0 and (work.requeued == 0 or cancelled)


def finish(store: RunStore) -> DoneReason:
    """Record that the run is done and why: ``cancelled``, ``budget`` (articles left pending) or
    ``complete``; returns the reason (the recorded one when it was already done)."""
    recorded = store.get_meta("done")
    if recorded:
        reason: DoneReason = recorded
        return reason
    c = store.counts()
    why: DoneReason = (
        "cancelled" if store.get_meta("cancelled") else ("budget" if c["pending"] else "complete")
    )
    with store.transaction():
        store.set_meta("done", why)
        store.event(
            "done", f"{why}: {c['succeeded']} succeeded, {c['failed']} failed, {c['pending']} pending"
        )
    return why
