"""Rough wall-time forecasts for a plan (batch or real-time) and side-by-side comparisons of workloads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import pandas as pd

from gembatch.planning.billing import SLO_S, TURNAROUND_P50_S, TURNAROUND_P90_S, batch_rounds, price_change

if TYPE_CHECKING:
    from gembatch.planning.plan import Plan

__all__ = ["SLO_S", "TURNAROUND_P50_S", "TURNAROUND_P90_S", "Forecast", "compare", "forecast"]


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
    rounds, limit = batch_rounds(plan, max_jobs)
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
    """``fc`` with the last day the work may be billed, and a note if prices change before it."""
    until, note = price_change(plan.model_info, plan.cost.summary, fc.mode, fc.p90_s)
    return replace(fc, billed_until=until, price_change=note)


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
    from gembatch.planning.plan import plan as make_plan

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
