"""The deadline policy: when batch can no longer finish in time, stragglers go through real time.

A run given ``deadline=`` (a time or a duration) watches each job's age against the observed
turnaround of finished jobs (blended with a heavy-tailed prior, see
:mod:`gembatch.planning.latency`). A job is expected to need ``max(p90 - age, p50)`` more seconds
of service time (a job past the tail is given at least a median more, never "almost done").
When a job's expected end leaves no time to send its articles through real time before the
deadline (at the model's RPM/TPM, plus a margin), it is cancelled — the cancellation confirmed
with ``batches.get``, so a job that finished meanwhile is collected instead and nobody pays twice
— its attempt given back, and its articles are sent through ``generateContent`` at once, within
``deadline_usd`` (the most the switch may cost) and the run's budget. :func:`decide` is the pure rule;
:func:`enforce` applies it at each batch step.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gembatch.errors import InputError
from gembatch.planning.latency import PRIOR, blended_quantile
from gembatch.runs.context import Context
from gembatch.runs.states import State

__all__ = ["DEADLINE_REASON", "Decision", "JobView", "Outlook", "decide", "enforce", "parse_deadline"]

#: ``cancel_reason`` of jobs the deadline moved to real time (an attempt-free cancel).
DEADLINE_REASON = "deadline"
_META = "deadline"
_UNITS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0}
_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([dhms])\s*)+$", re.I)
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])", re.I)
_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def parse_deadline(value: Any, now: float | None = None) -> float | None:
    """The deadline as UNIX seconds: a time (``"16:00"``: the next 16:00, local; ISO ``"2026-12-01T16:00"``;
    a ``datetime``) or a duration from ``now`` (``"90m"``, ``"2h"``, ``"1h30m"``, seconds as a number).

    ``None`` or ``""``: no deadline. A deadline already past raises :class:`~gembatch.InputError`.

    >>> parse_deadline("1h30m", now=0.0)
    5400.0
    """
    now = time.time() if now is None else now
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    at: float | None = None
    if isinstance(value, dt.datetime):
        at = value.timestamp()
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        at = now + float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _DURATION.match(text):
            at = now + sum(float(n) * _UNITS[u.lower()] for n, u in _PART.findall(text))
        elif re.fullmatch(r"\d+(?:\.\d+)?", text):
            at = now + float(text)
        elif m := _CLOCK.match(text):
            hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
            if hour < 24 and minute < 60 and second < 60:
                base = dt.datetime.fromtimestamp(now)
                when = base.replace(hour=hour, minute=minute, second=second, microsecond=0)
                if when.timestamp() <= now:
                    when += dt.timedelta(days=1)
                at = when.timestamp()
        else:
            try:
                at = dt.datetime.fromisoformat(text).timestamp()
            except ValueError:
                at = None
    if at is None:
        raise InputError(
            "deadline must be a time (16:00, 2026-12-01T16:00) or a duration (90m, 2h, 1h30m), "
            f"not {value!r}",
            field="deadline",
        )
    if at <= now:
        raise InputError(f"deadline {value!r} is already past; give a later time", field="deadline")
    return at


@dataclass(frozen=True)
class JobView:
    """What the rule needs of one unfinished chunk: ``age_s`` on the service clock (``None``: not sent)."""

    chunk_id: str
    articles: int
    tokens: int
    age_s: float | None
    realtime_usd: float


@dataclass(frozen=True)
class Outlook:
    """Turnaround quantiles (service seconds), the service clock's rate, and real-time capacity."""

    p50_s: float
    p90_s: float
    rate: float = 1.0  # service seconds per wall second (the emulator runs faster)
    rpm: float = 1_000.0
    tpm: float = 1_000_000.0


@dataclass(frozen=True)
class Decision:
    """Chunks to move to real time now (the latest first), those the cost bound keeps, and why."""

    switch: tuple[str, ...] = ()
    unaffordable: tuple[str, ...] = ()
    realtime_s: float = 0.0
    realtime_usd: float = 0.0


def remaining_s(job: JobView, outlook: Outlook) -> float:
    """Expected wall seconds until ``job`` ends by batch."""
    service = outlook.p90_s if job.age_s is None else max(outlook.p90_s - job.age_s, outlook.p50_s)
    return service / max(outlook.rate, 1e-9)


def realtime_s(jobs: Sequence[JobView], outlook: Outlook) -> float:
    """Wall seconds real time needs for ``jobs``' articles at the RPM/TPM limits."""
    n, tokens = sum(j.articles for j in jobs), sum(j.tokens for j in jobs)
    return max(n / max(outlook.rpm, 1e-9), tokens / max(outlook.tpm, 1e-9)) * 60.0


def decide(
    now: float, deadline: float, jobs: Sequence[JobView], outlook: Outlook, *, max_usd: float | None = None
) -> Decision:
    """Which unfinished chunks cannot finish by batch and still leave real time enough room.

    Jobs are taken latest expected end first; one joins the switch when its expected end plus the
    real-time time of everything switched with it (and a margin of 15% of the time left, at most
    a minute) passes the deadline. ``max_usd`` bounds the real-time cost of the switch: a job
    that would pass it stays in batch (``unaffordable``).
    """
    left = deadline - now
    margin = min(60.0, 0.15 * max(left, 0.0))
    chosen: list[JobView] = []
    poor: list[str] = []
    spent = 0.0
    for job in sorted(jobs, key=lambda j: -remaining_s(j, outlook)):
        if now + remaining_s(job, outlook) + realtime_s([*chosen, job], outlook) + margin <= deadline:
            continue
        if max_usd is not None and spent + job.realtime_usd > max_usd:
            poor.append(job.chunk_id)
            continue
        chosen.append(job)
        spent += job.realtime_usd
    return Decision(tuple(j.chunk_id for j in chosen), tuple(poor), realtime_s(chosen, outlook), spent)


# -- applying the rule to a run ---------------------------------------------------------------------
def settings(ctx: Context) -> dict[str, Any]:
    """The run's deadline settings (``at``, ``max_usd``, ``spent_usd``), empty without a deadline."""
    return dict(ctx.store.get_meta(_META) or {})


def set_deadline(ctx: Context, value: Any, max_usd: float | None = None) -> float | None:
    """Give the run a deadline (``None`` removes it); returns it as UNIX seconds."""
    at = parse_deadline(value)
    old = settings(ctx)
    with ctx.store.transaction():
        kept = {k: v for k, v in old.items() if k in ("spent_usd", "note", "switched_at")}
        ctx.store.set_meta(_META, None if at is None else {**kept, "at": at, "max_usd": max_usd})
        when = "none" if at is None else _clock(at)
        ctx.store.event(
            "deadline", f"deadline {when}" + ("" if max_usd is None else f", real time ≤ ${max_usd:g}")
        )
    return at


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M", time.localtime(epoch))


def _outlook(ctx: Context) -> Outlook:
    from gembatch.runs.hedge import service_now
    from gembatch.runs.realtime_send import RealtimeOptions

    seen = ctx.store.get_meta("turnarounds") or []  # what the hedging records of finished jobs
    conf = settings(ctx)
    rate = conf.get("rate")
    if rate is None:  # measured once: the service clock runs at a fixed speed
        rate = 1.0
        if callable(getattr(ctx.transport, "clock", None)):
            w0, s0 = time.time(), service_now(ctx)
            time.sleep(0.05)
            rate = (service_now(ctx) - s0) / max(time.time() - w0, 1e-6)
        if conf:
            ctx.store.set_meta(_META, {**conf, "rate": rate})
    limits = RealtimeOptions.from_dict(ctx.config.realtime).limits(ctx.model_info, ctx.config.tier)
    per_min = 60.0 / limits.window_s
    return Outlook(p50_s=blended_quantile(0.5, seen, PRIOR), p90_s=blended_quantile(0.9, seen, PRIOR),
                   rate=float(rate), rpm=limits.rpm * per_min, tpm=limits.tpm * per_min)  # fmt: skip


def _views(ctx: Context, rows: Sequence[Any], rate: float) -> list[JobView]:
    info, now = ctx.model_info, time.time()
    out = []
    for r in rows:
        age = None if r["state"] == State.PLANNED else (now - float(r["submitted_at"] or now)) * rate
        rt = info.cost(int(r["est_input_tokens"]), int(r["est_output_tokens"]), "realtime")
        out.append(JobView(r["chunk_id"], int(r["articles"]), int(r["est_input_tokens"]), age, rt))
    return out


def enforce(ctx: Context) -> int:
    """Apply :func:`decide` to the run's unfinished chunks; returns how many were moved to real time."""
    conf = settings(ctx)
    if not conf.get("at"):
        return 0
    led = ctx.store
    rows = [r for r in led.chunks_in(State.PLANNED, State.SUBMITTED) if r["cancel_reason"] is None]
    rows = [r for r in rows if r["state"] != State.PLANNED or r["blocked"] != "budget"]
    if not rows:
        return 0
    outlook = _outlook(ctx)
    now, at = time.time(), float(conf["at"])
    bound = conf.get("max_usd")
    left_usd = None if bound is None else float(bound) - float(conf.get("spent_usd") or 0.0)
    decision = decide(now, at, _views(ctx, rows, outlook.rate), outlook, max_usd=left_usd)
    if decision.unaffordable and not conf.get("warned"):
        led.set_meta(_META, {**conf, "warned": True})
        late = len(decision.unaffordable)
        why = f"{late} late jobs stay in batch: real time would pass deadline_usd ${bound}"
        led.event("deadline_cost", why)
    if not decision.switch:
        return 0
    from gembatch.runs.deadline_switch import switch_to_realtime

    by_id = {r["chunk_id"]: r for r in rows}
    note = (
        f"switching {len(decision.switch)} stuck jobs to real time at {_clock(now)} to meet the "
        f"{_clock(at)} deadline (~{decision.realtime_s:.0f}s, ~${decision.realtime_usd:.4f})"
    )
    led.event("deadline_switch", note)
    spent = float(conf.get("spent_usd") or 0.0) + decision.realtime_usd
    led.set_meta(_META, {**settings(ctx), "spent_usd": spent, "switched_at": now, "note": note})
    return switch_to_realtime(ctx, [by_id[c] for c in decision.switch], deadline=at)
