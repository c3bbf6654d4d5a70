"""What gembatch asks of a batch service: the ``Transport`` protocol and the typed values it returns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, BinaryIO, Protocol, runtime_checkable

__all__ = ["Failure", "JobState", "JobStatus", "Timings", "Transport"]


class JobState(StrEnum):
    """A remote batch job's state, in the service's wire spelling (``BATCH_STATE_*``)."""

    UNSPECIFIED = "BATCH_STATE_UNSPECIFIED"
    PENDING = "BATCH_STATE_PENDING"
    RUNNING = "BATCH_STATE_RUNNING"
    SUCCEEDED = "BATCH_STATE_SUCCEEDED"
    FAILED = "BATCH_STATE_FAILED"
    CANCELLED = "BATCH_STATE_CANCELLED"
    EXPIRED = "BATCH_STATE_EXPIRED"

    @classmethod
    def parse(cls, value: object) -> JobState:
        """``BATCH_STATE_X``, the SDK's ``JOB_STATE_X`` or a bare ``X``; anything else is UNSPECIFIED."""
        text = str(getattr(value, "value", value) or "").upper()
        bare = text.removeprefix("BATCH_STATE_").removeprefix("JOB_STATE_")
        try:
            return cls(f"BATCH_STATE_{bare}")
        except ValueError:
            return cls.UNSPECIFIED

    @property
    def done(self) -> bool:
        """Terminal: the job will not change any more (EXPIRED and CANCELLED included)."""
        return self in _DONE


_DONE = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED})


@dataclass(frozen=True)
class JobStatus:
    """One remote batch job as the service last described it.

    ``stats`` are the request counts (``requestCount``, ``successfulRequestCount``,
    ``failedRequestCount``, ``pendingRequestCount``; zeros may be absent). A finished file batch
    has ``output_file``; a finished inline batch has ``inline_responses`` (raw response items).
    """

    name: str
    display_name: str | None = None
    state: JobState = JobState.UNSPECIFIED
    model: str | None = None
    stats: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None
    output_file: str | None = None
    inline_responses: tuple[Mapping[str, Any], ...] | None = None
    create_time: str | None = None
    update_time: str | None = None
    end_time: str | None = None


@dataclass(frozen=True)
class Failure:
    """What a failed call to the service means, read from its exception.

    ``answered`` is true when the service replied with an error status (``code``); ``transient``
    when trying again later may work (5xx, 408/429, timeouts, dropped connections);
    ``refused`` when the service certainly did NOT act (a 4xx other than 408): a refused create
    made no job, while after any other failure the job may exist. ``retry_after_s`` is the wait the
    service asked for, if any.
    """

    transient: bool
    refused: bool = False
    answered: bool = False
    code: int | None = None
    status: str = ""
    message: str = ""
    retry_after_s: float | None = None

    @property
    def not_found(self) -> bool:
        return self.answered and self.code == 404

    @property
    def permanent_refusal(self) -> bool:
        """Refused for good: a 4xx other than 408/429 (a retry would be refused again)."""
        return self.refused and self.code != 429

    def summary(self, limit: int = 200) -> str:
        """``"429 RESOURCE_EXHAUSTED: message"``, or ``"TypeName: message"`` without an answer."""
        head = f"{self.code} {self.status}" if self.answered else self.status
        return f"{head}: {self.message[:limit]}"


@dataclass(frozen=True)
class Timings:
    """How often a run asks this backend about its jobs, and how long a new job may stay unlisted."""

    poll_min_s: float = 5.0
    poll_max_s: float = 60.0
    reconcile_grace_s: float = 60.0

    def as_options(self) -> dict[str, float]:
        return {"poll_min_s": self.poll_min_s, "poll_max_s": self.poll_max_s,
                "reconcile_grace_s": self.reconcile_grace_s}  # fmt: skip


@runtime_checkable
class Transport(Protocol):
    """Everything gembatch asks of a batch service. Errors are the backend's own exceptions;
    :meth:`classify` says what each one means."""

    name: str
    timings: Timings
    emulated: bool

    def describe(self) -> str:
        """One line saying where requests go; never contains a secret."""
        ...

    def upload(self, data: BinaryIO, display_name: str) -> str:
        """Upload a JSONL request file; returns its name (``files/…``)."""
        ...

    def file_exists(self, name: str) -> bool: ...

    def create(
        self,
        model: str,
        display_name: str,
        *,
        file_name: str | None = None,
        requests: Sequence[Mapping[str, Any]] | None = None,
    ) -> JobStatus:
        """Create one batch job from an uploaded file or inline ``{"key", "request"}`` lines."""
        ...

    def get(self, name: str) -> JobStatus: ...

    def list_jobs(self, page_size: int = 100) -> Iterator[JobStatus]:
        """Every job the service holds, following all pages."""
        ...

    def cancel(self, name: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def download(self, file_name: str) -> bytes: ...

    def delete_file(self, name: str) -> None: ...

    async def generate(self, model: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """One real-time ``generateContent``; returns the response as JSON (camelCase)."""
        ...

    def count_tokens(self, model: str, text: str) -> int: ...

    def classify(self, exc: BaseException) -> Failure: ...
