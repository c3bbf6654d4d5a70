"""Rough wall-time forecasts for a plan (batch or real-time) and side-by-side comparisons of workloads."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from gembatch.price_schedule import as_date

if TYPE_CHECKING:
    from gembatch.plan import Plan

__all__ = ["Forecast", "compare", "forecast"]

# Batch turnaround per job is not published beyond "within 24 h": these are assumptions, overridable.
TURNAROUND_P50_S = 30 * 60.0
TURNAROUND_P90_S = 4 * 3600.0
SLO_S = 24 * 3600.0  # the service's promise for one batch job


@dataclass(frozen=True)
class Forecast:
    """How long a plan should take: ``p50_s`` / ``p90_s`` seconds, and what bounds it (``limit``)."""

    mode: str
    rounds: float
    p50_s: float
    p90_s: float
    limit: str
    assumption: str
    billed_until: str | None = None  # the last day the work may still be billed (p90, ≥ the 24 h SLO)
    price_change: str | None = None  # set when the model's prices change before billed_until

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        text = f"{self.mode}: ~{_human(self.p50_s)} (p90 {_human(self.p90_s)}), bounded by {self.limit}"
        return f"{text}; {self.price_change}" if self.price_change else text


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def forecast(
    plan: Plan,
    mode: str = "batch",
    *,
    turnaround_p50_s: float = TURNAROUND_P50_S,
    turnaround_p90_s: float = TURNAROUND_P90_S,
    max_jobs: int | None = None,
) -> Forecast:
    """Forecast the wall time of ``plan``.

    Batch: the work goes through the service in *rounds*, each one job turnaround long. ``waves``
    runs one round per wave; ``rolling`` needs total enqueued tokens / cap rounds (at least one),
    and both need at least chunks / concurrent-job-limit rounds. Real-time: the slower of input
    tokens / TPM and requests / RPM for the tier. Figures are assumptions, not promises: the
    service only guarantees a batch job within :data:`SLO_S` (24 hours).
    """
    info, chunks = plan.model_info, plan.chunks
    if mode == "realtime":
        tpm, rpm = info.tpm.get(plan.tier), info.rpm.get(plan.tier)
        tokens = float(chunks["est_input_tokens"].sum() + chunks["est_output_tokens"].sum())
        by_tokens_s = 60.0 * tokens / tpm if tpm else 0.0
        by_requests_s = 60.0 * float(chunks["articles"].sum()) / rpm if rpm else 0.0
        seconds = max(by_tokens_s, by_requests_s)
        limit = f"TPM {tpm:,}" if tpm and by_tokens_s >= by_requests_s else f"RPM {rpm:,}" if rpm else "?"
        if not (tpm or rpm):
            limit = f"unknown: no RPM/TPM for {plan.tier} in the catalogue"
        note = f"{plan.tier} RPM/TPM from the catalogue"
        return _dated(plan, Forecast("realtime", 1.0, seconds, seconds * 1.25, limit, note))
    jobs = max_jobs or info.concurrent_batch_jobs
    by_jobs = math.ceil(len(chunks) / jobs) if len(chunks) else 0
    by_tokens = 0.0
    if plan.policy == "waves":
        by_tokens = float(len(plan.waves))
    elif len(chunks):
        by_tokens = max(1.0, float(chunks["est_tokens"].sum()) / max(plan.cap_tokens, 1))
    rounds = max(float(by_jobs), by_tokens)
    limit = "the concurrent-job limit" if by_jobs > by_tokens else "the enqueued-token quota"
    return _dated(
        plan,
        Forecast(
            "batch",
            rounds,
            rounds * turnaround_p50_s,
            rounds * turnaround_p90_s,  # rounds run one after another: slow rounds add up
            limit,
            f"job turnaround p50 {_human(turnaround_p50_s)}, p90 {_human(turnaround_p90_s)} (assumed)",
        ),
    )


def _dated(plan: Plan, fc: Forecast) -> Forecast:
    """``fc`` with the last day the work may be billed, and a note if prices change before it.

    Work is billed when it runs: from the end of the billing date (the worst time of day to submit)
    plus the p90 duration — for batch at least the 24 hours the service allows each job.
    """
    info = plan.model_info
    if info.billing_date is None:
        return fc
    seconds = max(fc.p90_s, SLO_S) if fc.mode == "batch" else fc.p90_s
    start = as_date(info.billing_date)
    last = start + dt.timedelta(days=1, seconds=seconds)
    nxt = info.next_prices()
    note = None
    if nxt is not None and nxt.prices_from is not None and as_date(nxt.prices_from) <= last:
        s = plan.cost.summary
        old, new = s[f"{fc.mode}_cost_usd"], s.get(f"{fc.mode}_cost_usd_next")
        note = (
            f"{info.id} prices change on {nxt.prices_from}, while work started on {start} may still "
            f"be billed (until ~{last}): {fc.mode} cost between ${old:,.2f} and ${new or old:,.2f}"
        )
    return Forecast(**{**asdict(fc), "billed_until": last.isoformat(), "price_change": note})


def compare(
    articles: pd.DataFrame,
    models: Iterable[str],
    tiers: Iterable[str] = ("tier1",),
    policies: Iterable[str] = ("rolling",),
    **plan_options: Any,
) -> pd.DataFrame:
    """Plan ``articles`` for every model × tier × policy; one row each with cost and duration.

    Columns: ``model``, ``tier``, ``policy``, ``jobs``, ``waves``, ``input_tokens``,
    ``batch_cost_usd``, ``realtime_cost_usd``, ``savings_usd``, ``batch_p50_h``, ``batch_p90_h``,
    ``realtime_h``, ``bound_by``, ``billing_date`` (the prices' date), ``next_prices_from`` and
    ``batch_cost_usd_next`` (the cost at the model's next known prices), ``warnings`` (what the
    plan says before submitting: spend cap, price change).
    """
    from gembatch.plan import plan as make_plan

    rows = []
    for model in models:
        for tier in tiers:
            for policy in policies:
                p = make_plan(articles, model, tier=tier, policy=policy, **plan_options)  # type: ignore[arg-type]
                batch, realtime = forecast(p, "batch"), forecast(p, "realtime")
                s = p.cost.summary
                rows.append(
                    {
                        "model": model,
                        "tier": tier,
                        "policy": policy,
                        "jobs": len(p.chunks),
                        "waves": len(p.waves),
                        "input_tokens": int(s["input_tokens"]),
                        "batch_cost_usd": float(s["batch_cost_usd"]),
                        "realtime_cost_usd": float(s["realtime_cost_usd"]),
                        "savings_usd": float(s["savings_usd"]),
                        "batch_p50_h": batch.p50_s / 3600,
                        "batch_p90_h": batch.p90_s / 3600,
                        "realtime_h": realtime.p50_s / 3600,
                        "bound_by": batch.limit,
                        "billing_date": p.billing_date,
                        "next_prices_from": s.get("next_prices_from"),
                        "batch_cost_usd_next": s.get("batch_cost_usd_next"),
                        "warnings": " ".join(p.warnings),
                    }
                )
    return pd.DataFrame(rows)
