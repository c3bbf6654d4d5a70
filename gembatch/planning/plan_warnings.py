"""What a plan must say before it is submitted: spend caps it would pass, prices changing under it."""

from __future__ import annotations

import dataclasses
import warnings
from typing import TYPE_CHECKING, Any

from gembatch.errors import PriceChangeWarning, SpendCapWarning
from gembatch.planning.billing import TURNAROUND_P90_S, batch_rounds, price_change
from gembatch.planning.price_schedule import as_date
from gembatch.presentation import formatters as fmt

if TYPE_CHECKING:
    from gembatch.planning.catalog import Catalog

__all__ = ["check_plan"]

# Above this share of the monthly cap a plan says how much of it it uses, without warning.
CAP_NOTE_SHARE = 0.5
# A price change this close is worth a note even when the work should be billed before it.
SOON_DAYS = 45


def check_plan(plan: Any, catalog: Catalog, project: Any = "auto") -> Any:
    """``plan`` (a :class:`~gembatch.planning.plan.Plan`) with its warnings and notes set; each warning is
    also given as a Python warning. The price-change check uses the same batch p90 as
    :func:`gembatch.planning.forecast.forecast` with its default turnaround."""
    notes = list(plan.cost.summary.get("limit_notes", []))
    found: list[tuple[str, type[Warning]]] = []
    rounds, _ = batch_rounds(plan)
    _, straddle = price_change(plan.model_info, plan.cost.summary, "batch", rounds * TURNAROUND_P90_S)
    if straddle:
        found.append((straddle, PriceChangeWarning))
    nxt = plan.cost.summary.get("next_prices_from")
    if nxt and not straddle and plan.billing_date:
        days = (as_date(nxt) - as_date(plan.billing_date)).days
        if days <= SOON_DAYS:
            notes.append(
                f"{plan.model} prices change on {nxt} (in {days} days): this plan would cost "
                f"{fmt.usd(plan.cost.summary['batch_cost_usd_next'])} then"
            )
    message = _spend_cap(plan, catalog, project, straddles=straddle is not None)
    if message is not None:
        text, is_warning = message
        if is_warning:
            found.append((text, SpendCapWarning))
        else:
            notes.append(text)
    for text, category in found:
        warnings.warn(text, category, stacklevel=3)
    return dataclasses.replace(plan, warnings=tuple(t for t, _ in found), notes=tuple(notes))


def _spend_cap(plan: Any, catalog: Catalog, project: Any, *, straddles: bool) -> tuple[str, bool] | None:
    """(message, is_warning) comparing the plan's batch cost with the tier's monthly spend cap."""
    from gembatch.planning.learned_limits import spend_cap

    cap, how = spend_cap(catalog, plan.tier, project)
    if cap is None:
        return None
    s = plan.cost.summary
    cost, p90 = plan.est_cost_usd, float(s["batch_cost_usd_p90"])
    worst = max(p90, float(s.get("batch_cost_usd_next") or 0.0) if straddles else 0.0)
    where = f"the {plan.tier} monthly spend cap of ~{fmt.usd(cap)} ({how})"
    advice = (
        "the service answers 429 RESOURCE_EXHAUSTED once the month's spend reaches it, and other "
        "spend in the same billing account this month counts too: split the work across months, "
        "use a higher tier, or pick a cheaper model"
    )
    if cost > cap:
        return f"estimated batch cost {fmt.usd(cost)} passes {where}; {advice}", True
    if worst > cap:
        return f"batch cost could reach {fmt.usd(worst)} (p90), past {where}; {advice}", True
    if worst > CAP_NOTE_SHARE * cap:
        return f"this plan uses up to {100 * worst / cap:.0f}% of {where}", False
    return None
