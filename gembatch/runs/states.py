"""The chunk life cycle: states, legal transitions, and the remote batch states they map from."""

from __future__ import annotations

from enum import StrEnum

from gembatch.errors import GembatchError

__all__ = [
    "ACTIVE",
    "FINISHED",
    "IllegalTransition",
    "State",
    "check_transition",
    "from_remote",
]


class State(StrEnum):
    """Where one chunk (one batch job attempt) is; stored as its string value in the ledger."""

    PLANNED = "planned"
    SUBMITTING = "submitting"  # intent committed; the create call may or may not have happened
    SUBMITTED = "submitted"  # the service holds the job (batch_name known)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    COLLECTED = "collected"


#: States whose job is (or may be) holding enqueued tokens at the service.
ACTIVE = frozenset({State.SUBMITTING, State.SUBMITTED})
#: Remote-terminal states: the job will not change any more and waits to be collected.
FINISHED = frozenset({State.SUCCEEDED, State.FAILED, State.EXPIRED, State.CANCELLED})

_LEGAL: dict[State, frozenset[State]] = {
    # planned -> failed: the chunk can never be sent (e.g. a permanent 400 before any job exists)
    State.PLANNED: frozenset({State.SUBMITTING, State.CANCELLED, State.FAILED}),
    # submitting -> planned: the create call was certainly refused (429) or the job is certainly absent
    State.SUBMITTING: frozenset({State.SUBMITTED, State.PLANNED, State.FAILED, State.CANCELLED}),
    State.SUBMITTED: FINISHED,
    State.SUCCEEDED: frozenset({State.COLLECTED}),
    State.FAILED: frozenset({State.COLLECTED}),
    State.EXPIRED: frozenset({State.COLLECTED}),
    State.CANCELLED: frozenset({State.COLLECTED}),
    State.COLLECTED: frozenset(),
}

_REMOTE = {
    "SUCCEEDED": State.SUCCEEDED,
    "FAILED": State.FAILED,
    "EXPIRED": State.EXPIRED,
    "CANCELLED": State.CANCELLED,
}


class IllegalTransition(GembatchError, RuntimeError):
    """A chunk was asked to move between two states the life cycle does not connect (a bug)."""


def check_transition(chunk_id: str, old: str, new: str) -> None:
    """Raise :class:`IllegalTransition` unless ``old -> new`` is an edge of the life cycle."""
    if State(new) not in _LEGAL[State(old)]:
        raise IllegalTransition(
            f"chunk {chunk_id}: illegal transition {old} -> {new}; this is a gembatch bug, please report it "
            "with the run directory's ledger.sqlite"
        )


def from_remote(state: str | None) -> State | None:
    """Map a wire state (``BATCH_STATE_X`` or SDK ``JOB_STATE_X``) to a terminal :class:`State`.

    Returns ``None`` while the job is pending or running (or the state is unknown: never guess "done").
    """
    if not state:
        return None
    bare = state.removeprefix("BATCH_STATE_").removeprefix("JOB_STATE_")
    return _REMOTE.get(bare)
