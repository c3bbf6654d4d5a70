"""When planned work is billed: the rounds of batch jobs a plan needs, and any price change it straddles."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from gembatch.planning.price_schedule import as_date

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.planning.catalog import ModelInfo

__all__ = ["SLO_S", "TURNAROUND_P50_S", "TURNAROUND_P90_S", "batch_rounds", "price_change"]

# Batch turnaround per job is not published beyond "within 24 h": these are assumptions, overridable.
TURNAROUND_P50_S = 30 * 60.0
TURNAROUND_P90_S = 4 * 3600.0
SLO_S = 24 * 3600.0  # the service's promise for one batch job


class PlanShape(Protocol):
    """What these functions read of a :class:`~gembatch.planning.plan.Plan`."""

    @property
    def chunks(self) -> pd.DataFrame: ...
    @property
    def waves(self) -> pd.DataFrame: ...
    @property
    def policy(self) -> str: ...
    @property
    def cap_tokens(self) -> int: ...
    @property
    def model_info(self) -> ModelInfo: ...


def batch_rounds(plan: PlanShape, max_jobs: int | None = None) -> tuple[float, str]:
    """(rounds, what bounds them): job turnarounds the plan needs one after another.

    ``waves`` runs one round per wave; ``rolling`` needs total enqueued tokens / cap rounds (at
    least one); both need at least chunks / concurrent-job-limit rounds.
    """
    chunks = plan.chunks
    jobs = max_jobs or plan.model_info.concurrent_batch_jobs
    by_jobs = math.ceil(len(chunks) / jobs) if len(chunks) else 0
    by_tokens = 0.0
    if plan.policy == "waves":
        by_tokens = float(len(plan.waves))
    elif len(chunks):
        by_tokens = max(1.0, float(chunks["est_tokens"].sum()) / max(plan.cap_tokens, 1))
    limit = "the concurrent-job limit" if by_jobs > by_tokens else "the enqueued-token quota"
    return max(float(by_jobs), by_tokens), limit


def price_change(
    info: ModelInfo, summary: Mapping[str, Any], mode: str, p90_s: float
) -> tuple[str | None, str | None]:
    """(last day the work may be billed, note if the model's prices change by then).

    Work is billed when it runs: from the end of the billing date (the worst time of day to submit)
    plus the p90 duration — for batch at least the 24 hours the service allows each job.
    ``summary`` is the estimate's (for the cost at the current and next prices).
    """
    if info.billing_date is None:
        return None, None
    seconds = max(p90_s, SLO_S) if mode == "batch" else p90_s
    start = as_date(info.billing_date)
    last = start + dt.timedelta(days=1, seconds=seconds)
    nxt = info.next_prices()
    if nxt is None or nxt.prices_from is None or as_date(nxt.prices_from) > last:
        return last.isoformat(), None
    old, new = summary[f"{mode}_cost_usd"], summary.get(f"{mode}_cost_usd_next")
    note = (
        f"{info.id} prices change on {nxt.prices_from}, while work started on {start} may still "
        f"be billed (until ~{last}): {mode} cost between ${old:,.2f} and ${new or old:,.2f}"
    )
    return last.isoformat(), note
