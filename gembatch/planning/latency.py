"""How long a batch job takes, create to end: a heavy-tailed prior, updated by finished jobs.

A job's turnaround is dominated by its queue time, which is heavy-tailed (log-normal): most jobs
start within minutes, a few wait hours. gembatch starts from a prior (:data:`PRIOR`, or the
emulator profile's own model) and blends in the turnarounds of this run's finished jobs, weighting
the prior as :data:`PRIOR_WEIGHT` observations. The scheduler reads quantiles of the blend: the
hedge threshold (cancel and resend a job still pending past it) and the expected makespan of a
plan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = ["HEDGE_QUANTILE", "PRIOR", "PRIOR_WEIGHT", "LatencyModel", "blended_quantile"]

#: A job still pending past this quantile of the turnaround is a straggler worth hedging.
HEDGE_QUANTILE = 0.75
#: The prior counts as this many finished jobs when blended with observed turnarounds.
PRIOR_WEIGHT = 8


@dataclass(frozen=True)
class LatencyModel:
    """Log-normal queue time (median, sigma) plus a processing rate: a job's turnaround model."""

    queue_median_s: float = 600.0
    queue_sigma: float = 1.2
    overhead_s: float = 120.0
    tokens_per_s: float = 20_000.0
    source: str = "prior"

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
