"""Real-time sending: generateContent under RPM/TPM, bounded concurrency, retries, on its own loop."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from gembatch.errors import QuotaExceeded
from gembatch.inputs.request_lines import RequestSpec
from gembatch.planning.ratelimit import RateLimits, WindowLimiter
from gembatch.runs.response_lines import LineResult, classify_error, parse_response
from gembatch.transport.base import Transport
from gembatch.transport.connect import as_transport

__all__ = ["Answer", "Job", "RealtimeOptions", "SendReport", "in_thread", "send"]

T = TypeVar("T")
#: httpx's default connection pool, which the SDK's async client uses unless told otherwise.
_POOL = 100


@dataclass(frozen=True)
class RealtimeOptions:
    """How real-time requests are sent. Every field may be overridden per run or per call.

    ``rpm`` / ``tpm`` replace the catalogue's figures for the tier; ``window_s`` is the
    service's rate window (Gemini: 60 s); ``headroom`` keeps a margin under both limits.
    ``max_concurrency`` (default: enough for ~20 s of latency at the RPM, 8..100) bounds the
    requests in flight; above 100 (the SDK's default connection pool) requests would queue in the
    client, arriving later than the limiter assumes: give the client a larger pool
    (``HttpOptions(async_client_args={"limits": ...})``) or set ``arrival_margin_s=None``.
    ``timeout_s`` bounds each request; one failing with 429, 5xx or a timeout is retried up to
    ``max_retries`` times, waiting at least the server's RetryInfo.
    A 429 asking to wait longer than ``max_hold_s`` (a daily quota) stops sending instead.
    ``arrival_margin_s``: how late after sending a request is assumed to reach the service
    (``None``: count it until it completes, exact but slower with long answers); see
    :class:`~gembatch.planning.ratelimit.WindowLimiter`.
    """

    rpm: int | None = None
    tpm: int | None = None
    window_s: float = 60.0
    headroom: float = 1.0
    max_concurrency: int | None = None
    timeout_s: float = 120.0
    max_retries: int = 8
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    max_hold_s: float = 600.0
    arrival_margin_s: float | None = 2.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RealtimeOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data or {}) - known
        if unknown:
            raise TypeError(f"unknown real-time option(s): {', '.join(sorted(unknown))}")
        return cls(**dict(data or {}))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def limits(self, info: Any, tier: str) -> RateLimits:
        return RateLimits.for_model(
            info, tier, rpm=self.rpm, tpm=self.tpm, window_s=self.window_s, headroom=self.headroom
        )

    def concurrency(self, limits: RateLimits) -> int:
        if self.max_concurrency is not None:
            return max(1, int(self.max_concurrency))
        per_s = limits.requests / limits.window_s
        return int(min(_POOL, max(8, per_s * 20)))


@dataclass(frozen=True)
class Job:
    """One request to send: its key (article id), GenerateContentRequest body, estimated input tokens."""

    key: str
    request: Mapping[str, Any]
    est_tokens: int


@dataclass(frozen=True)
class Answer:
    """The last answer for a job: the classified result, how many tries, and when it finished."""

    job: Job
    result: LineResult
    tries: int
    latency_s: float
    time: float


@dataclass
class SendReport:
    """What one :func:`send` did."""

    sent: int = 0  # HTTP requests made, retries included
    completed: int = 0  # jobs with an outcome
    responses_429: int = 0
    server_errors: int = 0
    timeouts: int = 0
    stopped: str | None = None  # why sending stopped early, if it did
    elapsed_s: float = 0.0
    limits: RateLimits | None = None
    peak_requests: int = 0
    peak_tokens: int = 0
    waited_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    send_times: list[float] = field(default_factory=list)  # time.monotonic() of every request sent

    @property
    def requests_per_min(self) -> float:
        """Mean rate over the whole send (the first window's burst included)."""
        return 60.0 * self.sent / self.elapsed_s if self.elapsed_s else 0.0

    def sustained(self) -> tuple[float, int]:
        """(sustained requests per window as a fraction of the limit, peak requests in any window).

        The first window is a burst the limit allows; what decides a long run's duration is the
        rate after it: the requests sent past the first window over the time they took.
        """
        if self.limits is None or not self.send_times:
            return 0.0, 0
        w, times = self.limits.window_s, sorted(self.send_times)
        t0, t1 = times[0], times[-1]
        peak, lo = 0, 0
        for hi, t in enumerate(times):
            while times[lo] <= t - w:
                lo += 1
            peak = max(peak, hi - lo + 1)
        later = sum(1 for t in times if t >= t0 + w)  # everything past the first window's burst
        if not later:
            return 0.0, peak
        return later / ((t1 - t0) / w) / self.limits.requests, peak


class _Ratio:
    """Measured prompt tokens / estimated tokens; reservations use a high quantile of it."""

    def __init__(self, start: float = 1.0):
        self._seen: collections.deque[float] = collections.deque(maxlen=200)
        self.factor = start

    def add(self, est: int, actual: int) -> None:
        if est > 0 and actual > 0:
            self._seen.append(actual / est)
            if len(self._seen) % 8 == 0:
                self.factor = float(min(4.0, max(0.25, np.quantile(self._seen, 0.95) * 1.05)))


async def _send_all(
    transport: Transport,
    spec: RequestSpec,
    jobs: Iterable[Job],
    *,
    limits: RateLimits,
    options: RealtimeOptions,
    on_outcome: Callable[[Answer], None],
    stop: threading.Event,
    deadline: float | None,
    recent: Iterable[tuple[float, int]] = (),
) -> SendReport:
    limiter = WindowLimiter(limits, arrival_margin_s=options.arrival_margin_s)
    now = time.time()
    for when, tokens in recent:  # requests of an earlier pass or process still in the service's window
        limiter.preload(now - when, tokens)
    report = SendReport(limits=limits)
    ratio = _Ratio()
    schema = spec.response_schema
    source: Iterator[Job] = iter(jobs)
    halt = asyncio.Event()
    started = time.monotonic()

    def stopping() -> bool:
        if stop.is_set() and report.stopped is None:
            report.stopped = "stopped"
        if deadline is not None and time.monotonic() >= deadline and report.stopped is None:
            report.stopped = "timeout"
        return report.stopped is not None or halt.is_set()

    async def attempt(job: Job) -> Answer | None:
        tries = 0
        while True:
            if tries and stopping():
                return None  # not recorded: the article stays pending for the next drive
            tries += 1
            try:
                # an estimate over the TPM (they are cautious) waits for a whole empty window
                ticket = await limiter.acquire(min(round(job.est_tokens * ratio.factor), limits.tokens))
            except QuotaExceeded as exc:  # this article alone is over the TPM: it can never be sent
                return Answer(job, LineResult(job.key, "failed", error=str(exc)), tries, 0.0, time.time())
            t0 = time.monotonic()
            report.sent += 1
            report.send_times.append(t0)
            try:
                data = await asyncio.wait_for(transport.generate(spec.model, job.request), options.timeout_s)
            except Exception as exc:
                limiter.release(ticket)
                failure = transport.classify(exc)
                code, hint = failure.code, failure.retry_after_s
                if code == 429:
                    report.responses_429 += 1
                    if hint is not None and hint > options.max_hold_s:
                        report.stopped = f"quota exhausted: the service asks to retry in {hint:.0f}s"
                        halt.set()
                        return None
                    limiter.hold(hint if hint is not None else options.backoff_base_s)
                elif isinstance(exc, TimeoutError):
                    report.timeouts += 1
                elif isinstance(code, int) and code >= 500:
                    report.server_errors += 1
                if not failure.transient:
                    if not failure.answered:
                        raise  # not an answer from the service: a bug, never a per-article failure
                    status, why = classify_error(
                        {"code": code, "status": failure.status or None, "message": failure.message}
                    )
                    result = LineResult(job.key, status, error=why)
                    return Answer(job, result, tries, time.monotonic() - t0, time.time())
                if tries > options.max_retries:
                    why = f"gave up after {tries} tries: {type(exc).__name__}: {str(exc)[:200]}"
                    return Answer(job, LineResult(job.key, "retryable", error=why), tries, 0.0, time.time())
                backoff = min(options.backoff_max_s, options.backoff_base_s * 2 ** (tries - 1))
                await asyncio.sleep(max(backoff * random.uniform(0.5, 1.0), hint or 0.0))
                continue
            latency = time.monotonic() - t0
            result = parse_response(job.key, data, schema)
            limiter.release(ticket, result.prompt_tokens or None)
            ratio.add(job.est_tokens, result.prompt_tokens)
            report.latencies.append(latency)
            return Answer(job, result, tries, latency, time.time())

    async def worker() -> None:
        while not stopping():
            job = next(source, None)
            if job is None:
                return
            outcome = await attempt(job)
            if outcome is not None:
                report.completed += 1
                on_outcome(outcome)

    try:
        await asyncio.gather(*(worker() for _ in range(options.concurrency(limits))))
    finally:
        report.elapsed_s = time.monotonic() - started
        report.peak_requests = limiter.peak_requests
        report.peak_tokens = limiter.peak_tokens
        report.waited_s = limiter.stats.waited_s
    return report


def in_thread(factory: Callable[[], Awaitable[T]], stop: threading.Event | None = None) -> T:
    """Run ``factory()`` on a fresh event loop in a worker thread and return its result.

    Safe under Jupyter, whose kernel thread already runs a loop (``asyncio.run`` there raises).
    Ctrl-C (a kernel interrupt) sets ``stop`` and waits for the requests in flight to finish.
    """
    box: dict[str, Any] = {}

    async def main() -> T:
        return await factory()

    def target() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="gembatch-realtime", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.2)
    except KeyboardInterrupt:
        if stop is not None:
            stop.set()
        thread.join()
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]


def send(
    client: Any,
    spec: RequestSpec,
    jobs: Iterable[Job],
    limits: RateLimits,
    on_outcome: Callable[[Answer], None],
    *,
    options: RealtimeOptions | None = None,
    stop: threading.Event | None = None,
    timeout: float | None = None,
    recent: Iterable[tuple[float, int]] = (),
) -> SendReport:
    """Send every job through the backend's ``generate``; ``on_outcome`` sees each :class:`Answer`.

    ``client``: a transport or a google-genai client.
    Blocks the calling thread (the work runs on its own loop in a worker thread). ``on_outcome``
    runs on that worker thread, one call at a time. Jobs not started when ``stop`` is set or
    ``timeout`` seconds pass are left alone; requests already in flight are awaited. ``recent``
    lists ``(time.time(), input tokens)`` of requests answered lately (they still count against
    the service's window).
    """
    options = options or RealtimeOptions()
    stop = stop if stop is not None else threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    transport = as_transport(client)
    earlier = list(recent)
    return in_thread(
        lambda: _send_all(
            transport,
            spec,
            jobs,
            limits=limits,
            options=options,
            on_outcome=on_outcome,
            stop=stop,
            deadline=deadline,
            recent=earlier,
        ),
        stop,
    )
