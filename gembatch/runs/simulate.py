"""A discrete-event simulation of a batch run, driven by gembatch's own scheduler and hedging rules.

Each step mirrors :meth:`gembatch.runs.drivers.batch.BatchDriver.step` on a poll interval: finished
jobs are collected (their turnarounds learned), stragglers past the hedge threshold cancelled (their
copies go out on the next step, as a cancel is seen on the next sweep), and
:func:`gembatch.runs.scheduler.choose` picks what to submit. Job times come from
:meth:`gembatch.planning.latency.LatencyModel.draw` — the emulator's own latency model, seeded the
same way — so thousands of runs take seconds and a few full emulator runs can confirm the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gembatch.planning.latency import HEDGE_QUANTILE, LatencyModel, blended_quantile
from gembatch.runs.hedge import MAX_HEDGES, hedge_generation
from gembatch.runs.scheduler import Candidate, Capacity, choose

__all__ = ["SimChunk", "SimResult", "simulate", "simulate_plan"]


@dataclass(frozen=True)
class SimChunk:
    chunk_id: str
    wave: int
    tokens: int
    cost_usd: float = 0.0


@dataclass(frozen=True)
class SimResult:
    """One simulated run: makespan (first create → last end), utilisation of quota × headroom over
    the whole makespan, jobs created, hedges, and the cost billed (cancelled jobs bill nothing)."""

    makespan_s: float
    utilisation: float
    jobs: int
    hedges: int
    cost_usd: float


@dataclass
class _Job:
    chunk: SimChunk
    create: float
    start: float
    end: float
    cancelled_at: float | None = None


def simulate(
    chunks: Sequence[SimChunk],
    *,
    policy: str,
    cap_tokens: int,
    max_jobs: int,
    model: LatencyModel,
    seed: int,
    hedge_quantile: float | None = HEDGE_QUANTILE,
    poll_s: float = 30.0,
    max_steps: int = 200_000,
) -> SimResult:
    """Run ``chunks`` (in plan order) to the end under ``policy``; see the module docstring."""
    planned = list(chunks)
    flight: dict[str, _Job] = {}
    cancelled: list[_Job] = []  # seen as cancelled on the next step, then sent again
    done: list[_Job] = []
    withdrawn: list[_Job] = []
    observed: list[float] = []
    hedging = hedge_quantile is not None and policy != "waves"
    seq = hedges = 0
    open_waves = {c.wave for c in planned}
    t, first = 0.0, None
    for _ in range(max_steps):
        # sweep + poll + collect: what ended by now, and the cancels of the previous step
        for cid, job in list(flight.items()):
            if job.end <= t:
                observed.append(job.end - job.create)
                done.append(flight.pop(cid))
        for job in cancelled:  # withdrawn: a copy under the same attempt, ahead of planned work
            c = job.chunk
            base = c.chunk_id.partition("h")[0]
            copy = f"{base}h{hedge_generation(c.chunk_id) + 1}"
            planned.insert(0, SimChunk(copy, c.wave, c.tokens, c.cost_usd))
        cancelled = []
        if hedging:
            limit = blended_quantile(float(hedge_quantile or 0), observed)
            for cid, job in list(flight.items()):
                if t < job.start and t - job.create >= limit and hedge_generation(cid) < MAX_HEDGES:
                    job.cancelled_at = t
                    cancelled.append(flight.pop(cid))
                    withdrawn.append(job)
                    observed.append(t - job.create)  # censored: it would have taken at least this long
                    hedges += 1
        busy_waves = {c.wave for c in planned} | {j.chunk.wave for j in (*flight.values(), *cancelled)}
        open_waves &= busy_waves
        if not planned and not flight and not cancelled:
            break
        held = sum(j.chunk.tokens for j in flight.values())
        decision = choose(
            [Candidate(c.chunk_id, c.wave, c.tokens, c.cost_usd) for c in planned],
            Capacity(held, len(flight), 0.0, min(open_waves, default=None)),
            policy=policy,
            cap_tokens=cap_tokens,
            max_jobs=max_jobs,
        )
        chosen = set(decision.submit)
        for c in [c for c in planned if c.chunk_id in chosen]:
            seq += 1
            start, end = model.draw(seed, seq, c.tokens, t)
            flight[c.chunk_id] = _Job(c, t, start, end)
            first = t if first is None else first
        planned = [c for c in planned if c.chunk_id not in chosen]
        t += poll_s
    else:  # pragma: no cover - a scheduler that never finishes is a bug the bench must show
        raise RuntimeError(f"simulation did not finish in {max_steps} steps")
    t0 = first or 0.0
    end = max((j.end for j in done), default=t0)
    busy = sum(j.chunk.tokens * (j.end - j.create) for j in done)  # tokens held from create to end
    busy += sum(j.chunk.tokens * ((j.cancelled_at or j.create) - j.create) for j in withdrawn)
    span = max(end - t0, 1e-9)
    return SimResult(
        makespan_s=end - t0,
        utilisation=busy / (cap_tokens * span),
        jobs=seq,
        hedges=hedges,
        cost_usd=sum(j.chunk.cost_usd for j in done),
    )


def simulate_plan(plan: object, *, model: LatencyModel, seed: int, **kwargs: object) -> SimResult:
    """:func:`simulate` the chunks of a :class:`~gembatch.planning.plan.Plan` under its policy."""
    chunks = plan.chunks  # type: ignore[attr-defined]
    sims = [
        SimChunk(str(cid), int(r.wave), int(r.est_tokens), float(r.est_cost_usd))
        for cid, r in zip(chunks.index, chunks.itertuples(), strict=True)
    ]
    return simulate(
        sims,
        policy=str(kwargs.pop("policy", plan.policy)),  # type: ignore[attr-defined]
        cap_tokens=int(plan.cap_tokens),  # type: ignore[attr-defined]
        max_jobs=int(plan.model_info.concurrent_batch_jobs),  # type: ignore[attr-defined]
        model=model,
        seed=seed,
        **kwargs,  # type: ignore[arg-type]
    )
