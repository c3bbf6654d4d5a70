"""Which planned chunks to submit now: quota × headroom, the job limit, the budget, and the policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["POLICIES", "Candidate", "Capacity", "Decision", "choose"]

POLICIES = ("tail", "rolling", "waves")


@dataclass(frozen=True)
class Candidate:
    """A planned chunk as the scheduler sees it."""

    chunk_id: str
    wave: int
    est_tokens: int
    est_cost_usd: float


@dataclass(frozen=True)
class Capacity:
    """What is already committed: enqueued-token estimate and jobs in flight, and spend."""

    in_flight_tokens: int
    in_flight_jobs: int
    committed_usd: float
    open_wave: int | None = None  # lowest wave with work not yet collected (waves policy)


@dataclass
class Decision:
    """Chunks to submit now, in order, and chunks held back by the budget."""

    submit: list[str] = field(default_factory=list)
    over_budget: list[str] = field(default_factory=list)


def choose(
    planned: Sequence[Candidate],
    now: Capacity,
    *,
    policy: str,
    cap_tokens: int,
    max_jobs: int = 100,
    budget_usd: float | None = None,
) -> Decision:
    """First-fit in plan order under every limit.

    ``tail`` and ``rolling`` consider every planned chunk, so capacity freed by any job is used at
    once (they differ in the plan's job sizes);
    ``waves`` only the chunks of the open wave, so a wave starts when the previous one is collected.
    A chunk larger than the whole cap is let through alone when nothing else is in flight (the
    service then decides), so a run never stalls silently.
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, not {policy!r}")
    tokens, jobs, spend = now.in_flight_tokens, now.in_flight_jobs, now.committed_usd
    out = Decision()
    for c in planned:
        if policy == "waves" and now.open_wave is not None and c.wave != now.open_wave:
            continue
        if budget_usd is not None and spend + c.est_cost_usd > budget_usd + 1e-12:
            out.over_budget.append(c.chunk_id)
            continue
        if jobs >= max_jobs:
            break
        fits = tokens + c.est_tokens <= cap_tokens or (jobs == 0 and tokens == 0)
        if not fits:
            continue
        out.submit.append(c.chunk_id)
        tokens += c.est_tokens
        jobs += 1
        spend += c.est_cost_usd
    return out
