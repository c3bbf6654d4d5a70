"""Client-side RPM/TPM limits for real-time calls: a sliding-window limiter and duration estimates."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

from gembatch.errors import CatalogError, QuotaExceeded

if TYPE_CHECKING:
    from gembatch.planning.catalog import ModelInfo

__all__ = ["RateLimits", "RealtimeDuration", "Ticket", "WindowLimiter", "realtime_duration"]


@dataclass(frozen=True)
class RateLimits:
    """Requests and input tokens allowed per ``window_s`` seconds (Gemini: per minute).

    ``headroom`` (0 < h <= 1) keeps a margin under both figures, e.g. for other work in the
    same project (limits are per project, not per key).
    """

    rpm: int
    tpm: int
    window_s: float = 60.0
    headroom: float = 1.0

    def __post_init__(self) -> None:
        if self.rpm < 1 or self.tpm < 1:
            raise CatalogError(f"RPM and TPM must be >= 1, not {self.rpm} / {self.tpm}")
        if not 0 < self.headroom <= 1:
            raise CatalogError(f"headroom must be in (0, 1], not {self.headroom}")
        if self.window_s <= 0:
            raise CatalogError(f"window_s must be > 0, not {self.window_s}")

    @classmethod
    def for_model(
        cls,
        info: ModelInfo,
        tier: str,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        window_s: float = 60.0,
        headroom: float = 1.0,
    ) -> RateLimits:
        """The catalogue's RPM/TPM for ``tier``, with either one overridden."""
        if rpm is None or tpm is None:
            cat_rpm, cat_tpm = info.rate_limits(tier)
            rpm = cat_rpm if rpm is None else rpm
            tpm = cat_tpm if tpm is None else tpm
        return cls(int(rpm), int(tpm), float(window_s), float(headroom))

    @property
    def requests(self) -> int:
        """Requests admitted per window (after headroom)."""
        return max(1, math.floor(self.rpm * self.headroom))

    @property
    def tokens(self) -> int:
        """Input tokens admitted per window (after headroom)."""
        return max(1, math.floor(self.tpm * self.headroom))


class RealtimeDuration(NamedTuple):
    """Expected wall time of a real-time run at the limits, and which limit binds."""

    seconds: float
    bound: Literal["rpm", "tpm"]
    requests_per_min: float
    tokens_per_min: float


def realtime_duration(requests: int, input_tokens: int, rpm: int, tpm: int) -> RealtimeDuration:
    """Steady-state time to send ``requests`` carrying ``input_tokens`` at ``rpm`` / ``tpm``.

    Latency and the first window's burst are ignored: at scale the limits decide.

    Examples
    --------
    >>> realtime_duration(12_000, 30_000_000, rpm=4_000, tpm=4_000_000).bound
    'tpm'
    """
    by_rpm = requests / max(rpm, 1)
    by_tpm = input_tokens / max(tpm, 1)
    minutes = max(by_rpm, by_tpm)
    bound: Literal["rpm", "tpm"] = "rpm" if by_rpm >= by_tpm else "tpm"
    rate = requests / minutes if minutes else 0.0
    return RealtimeDuration(60.0 * minutes, bound, rate, input_tokens / minutes if minutes else 0.0)


@dataclass(eq=False)
class Ticket:
    """One admitted request; hand it back with :meth:`WindowLimiter.release`."""

    tokens: int
    anchor: float  # when the service counted it, at the latest
    released: bool = False
    expired: bool = False


@dataclass
class LimiterStats:
    """What the limiter did: admissions, time spent waiting, holds after 429s."""

    admitted: int = 0
    waits: int = 0
    waited_s: float = 0.0
    holds: int = 0


class WindowLimiter:
    """At most ``requests`` and ``tokens`` in any ``window_s`` seconds, as a sliding-window log.

    The service counts a request when it arrives, some time after it is sent and before it
    completes. A request therefore occupies its slot from admission until ``window_s`` after
    the earlier of its completion and ``arrival_margin_s`` after sending (``None``: always its
    completion, which is exact whatever the latency but slower when answers take long). No window
    the service sees then holds more than the limit. Waiters are served first come, first served,
    so a large article is never starved by small ones. Create it inside the loop that uses it.
    """

    def __init__(
        self,
        limits: RateLimits,
        clock: Callable[[], float] = time.monotonic,
        *,
        arrival_margin_s: float | None = 2.0,
    ):
        self.limits = limits
        self.arrival_margin_s = arrival_margin_s
        self._clock = clock
        self._heap: list[tuple[float, int, Ticket]] = []  # (anchor, seq, ticket); stale entries skipped
        self._seq = itertools.count()
        self._count = 0  # requests occupying the window
        self._tokens = 0
        self._hold_until = 0.0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self.stats = LimiterStats()
        self.peak_requests = 0
        self.peak_tokens = 0

    def _expire(self, now: float) -> None:
        window = self.limits.window_s
        while self._heap and self._heap[0][0] + window <= now:
            anchor, _, ticket = heapq.heappop(self._heap)
            if ticket.expired or anchor != ticket.anchor:
                continue  # superseded by an earlier completion
            ticket.expired = True
            self._count -= 1
            self._tokens -= ticket.tokens

    def _next_expiry(self, now: float) -> float | None:
        while self._heap and (self._heap[0][2].expired or self._heap[0][0] != self._heap[0][2].anchor):
            heapq.heappop(self._heap)
        return self._heap[0][0] + self.limits.window_s - now if self._heap else None

    def occupancy(self) -> tuple[int, int]:
        """(requests, tokens) currently counted against the window."""
        self._expire(self._clock())
        return self._count, self._tokens

    async def acquire(self, tokens: int) -> Ticket:
        """Wait until one request of ``tokens`` input tokens fits under both limits."""
        tokens = max(0, int(tokens))
        if tokens > self.limits.tokens:
            raise QuotaExceeded(
                f"one request needs ~{tokens:,} input tokens but the limit is {self.limits.tokens:,} per "
                f"{self.limits.window_s:g}s (TPM); shorten the article or raise tpm"
            )
        async with self._lock:
            started = self._clock()
            waited = False
            while True:
                now = self._clock()
                self._expire(now)
                delay: float | None = self._hold_until - now
                if delay is not None and delay <= 0:
                    fits = self._count < self.limits.requests and self._tokens + tokens <= self.limits.tokens
                    if fits:
                        return self._admit(tokens, now, started if waited else None)
                    # the next expiry frees room; with everything in flight, a release will
                    delay = self._next_expiry(now)
                waited = True
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), delay)

    def _admit(self, tokens: int, now: float, waited_since: float | None) -> Ticket:
        margin = self.arrival_margin_s
        ticket = Ticket(tokens, now + margin if margin is not None else math.inf)
        if margin is not None:
            heapq.heappush(self._heap, (ticket.anchor, next(self._seq), ticket))
        self._count += 1
        self._tokens += tokens
        self.peak_requests = max(self.peak_requests, self._count)
        self.peak_tokens = max(self.peak_tokens, self._tokens)
        self.stats.admitted += 1
        if waited_since is not None:
            self.stats.waits += 1
            self.stats.waited_s += now - waited_since
        return ticket

    def preload(self, age_s: float, tokens: int) -> None:
        """Count a request that completed ``age_s`` seconds ago (e.g. before a restart)."""
        if age_s >= self.limits.window_s:
            return
        anchor = self._clock() - max(0.0, age_s)
        ticket = Ticket(max(0, int(tokens)), anchor, released=True)
        heapq.heappush(self._heap, (anchor, next(self._seq), ticket))
        self._count += 1
        self._tokens += ticket.tokens

    def release(self, ticket: Ticket, tokens: int | None = None) -> None:
        """The request completed (or failed); ``tokens`` replaces the estimate with the service's count."""
        if ticket.released:
            return
        ticket.released = True
        if ticket.expired:
            return  # its window has passed already
        actual = ticket.tokens if tokens is None else max(0, int(tokens))
        self._tokens += actual - ticket.tokens
        ticket.tokens = actual
        now = self._clock()
        if now < ticket.anchor:
            ticket.anchor = now
            heapq.heappush(self._heap, (now, next(self._seq), ticket))
        self._changed.set()

    def hold(self, seconds: float) -> None:
        """Admit nothing for ``seconds`` (the service said so in a 429's RetryInfo)."""
        self._hold_until = max(self._hold_until, self._clock() + max(0.0, seconds))
        self.stats.holds += 1
        self._changed.set()
