"""How long a batch job takes, create to end: a heavy-tailed prior, updated by finished jobs.

A job's turnaround is dominated by its queue time, which is heavy-tailed (log-normal): most jobs
start within minutes, a few wait hours. gembatch starts from a prior (:data:`PRIOR`, or the
emulator profile's own model) and blends in the turnarounds of this run's finished jobs, weighting
the prior as :data:`PRIOR_WEIGHT` observations. The scheduler reads quantiles of the blend: the
hedge threshold (cancel and resend a job still pending past it) and the expected makespan of a
plan.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "HEDGE_QUANTILE",
    "PRIOR",
    "PRIOR_WEIGHT",
    "Forecast",
    "LatencyModel",
    "blended_quantile",
    "draw_job_times",
    "forecast_makespan",
]

#: A job still pending past this quantile of the turnaround is a straggler worth hedging.
HEDGE_QUANTILE = 0.6
#: The prior counts as this many finished jobs when blended with observed turnarounds.
PRIOR_WEIGHT = 8


@dataclass(frozen=True)
class LatencyModel:
    """Log-normal queue time (median, sigma) plus a processing rate: a job's turnaround model."""

    queue_median_s: float = 600.0
    queue_sigma: float = 1.2
    overhead_s: float = 120.0
    tokens_per_s: float = 20_000.0
    proc_sigma: float = 0.6
    extra_latency_s: float = 0.0
    source: str = "prior"

    def draw(self, seed: int, seq: int, tokens: int, created: float) -> tuple[float, float]:
        """(start, end) of the ``seq``-th job of a service seeded ``seed`` (see :func:`draw_job_times`)."""
        return draw_job_times(
            seed, seq, tokens, created, queue_median_s=self.queue_median_s, queue_sigma=self.queue_sigma,
            overhead_s=self.overhead_s, tokens_per_s=self.tokens_per_s, proc_sigma=self.proc_sigma,
            extra_latency_s=self.extra_latency_s,
        )  # fmt: skip

    def work_s(self, tokens: int) -> float:
        """Median processing time of a job of ``tokens`` input tokens, once it starts."""
        return self.overhead_s + tokens / max(self.tokens_per_s, 1e-9)

    def quantile(self, q: float, tokens: int = 0) -> float:
        """The ``q`` quantile of the turnaround of a job of ``tokens`` (queue tail + median work)."""
        z = NormalDist().inv_cdf(min(max(q, 1e-6), 1 - 1e-6))
        return self.queue_median_s * math.exp(self.queue_sigma * z) + self.work_s(tokens)

    def describe(self) -> str:
        return (
            f"queue median {self.queue_median_s / 60:.0f} min, sigma {self.queue_sigma:g} "
            f"(p90 {self.quantile(0.9) / 60:.0f} min) — {self.source}"
        )


#: What gembatch assumes before it has seen a job finish: a median of ten minutes in the queue with
#: a heavy tail (sigma 1.2: one job in ten waits over 45 minutes).
PRIOR = LatencyModel()


def blended_quantile(
    q: float, observed: Sequence[float], prior: LatencyModel = PRIOR, weight: int = PRIOR_WEIGHT
) -> float:
    """The ``q`` quantile of the observed turnarounds pooled with ``weight`` evenly spaced prior ones."""
    pooled = sorted([prior.quantile((i + 0.5) / weight) for i in range(weight)] + list(map(float, observed)))
    pos = q * (len(pooled) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(pooled) - 1)
    return pooled[lo] + (pooled[hi] - pooled[lo]) * (pos - lo)


def draw_job_times(
    seed: int,
    seq: int,
    tokens: int,
    created: float,
    *,
    queue_median_s: float,
    queue_sigma: float,
    overhead_s: float,
    tokens_per_s: float,
    proc_sigma: float,
    extra_latency_s: float = 0.0,
) -> tuple[float, float]:
    """Seeded heavy-tailed (log-normal) start and end of one job: the emulator's latency model.

    The draw depends only on (``seed``, ``seq``): the emulator and the scheduler simulation give
    the ``seq``-th job of a seed the same queue and processing time.
    """
    digest = hashlib.sha256(f"{seed}:{seq}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    queue = queue_median_s * rng.lognormvariate(0.0, queue_sigma) + extra_latency_s
    work = (overhead_s + tokens / max(tokens_per_s, 1e-9)) * rng.lognormvariate(0.0, proc_sigma)
    start = created + queue
    return start, start + work


@dataclass(frozen=True)
class Forecast:
    """Expected makespan of a split (``jobs`` of ≤ ``job_tokens``) over seeded draws, in seconds."""

    job_tokens: int
    jobs: int
    mean_s: float
    p90_s: float


def forecast_makespan(
    total_tokens: int,
    job_tokens: int,
    cap_tokens: int,
    max_jobs: int,
    model: LatencyModel = PRIOR,
    *,
    waves: bool = False,
    hedge_quantile: float | None = HEDGE_QUANTILE,
    max_hedges: int = 8,
    draws: int = 48,
    poll_s: float = 30.0,
) -> Forecast:
    """A quick slot model of a run: at most ``cap_tokens // job_tokens`` (and ``max_jobs``) jobs at
    once, each taking a seeded draw of ``model``; a job still queued past the ``hedge_quantile``
    turnaround is sent again (a fresh draw), at most ``max_hedges`` times. ``waves`` runs groups of
    jobs one after another instead. The planner compares splits with it; the full simulation of
    the scheduler (``gembatch.runs.simulate``) is what the benchmark reports.
    """
    size = max(1, min(job_tokens, cap_tokens))
    n = max(1, -(-total_tokens // size))
    slots = max(1, min(max_jobs, cap_tokens // size))
    limit = model.quantile(hedge_quantile, size) if hedge_quantile is not None else math.inf
    spans = []
    for d in range(draws):
        seq = 0
        free = [0.0] * slots
        end_all = 0.0
        for i in range(n):
            if waves and i % slots == 0:
                free = [end_all] * slots  # a wave starts when the previous one is done
            k = min(range(slots), key=free.__getitem__)
            t = free[k]
            for tries in range(max_hedges + 1):
                seq += 1
                start, end = model.draw(10_007 + d, seq, size, t)
                if start - t <= limit or tries == max_hedges:
                    break
                t += math.ceil(limit / poll_s) * poll_s + poll_s  # seen, cancelled, sent again
            free[k] = end
            end_all = max(end_all, end)
        spans.append(end_all)
    spans.sort()
    return Forecast(size, n, sum(spans) / len(spans), spans[min(len(spans) - 1, int(0.9 * len(spans)))])
