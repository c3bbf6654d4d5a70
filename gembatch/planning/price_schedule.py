"""Dated prices: periods that each apply from a date until the next one, and the one in force on a day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from gembatch.errors import CatalogError

__all__ = ["PRICE_FIELDS", "DateLike", "as_date", "build_schedule", "period_on", "with_batch_prices"]

DateLike = str | dt.date | None
# The fields one dated price period sets; everything else about a model holds on every date.
PRICE_FIELDS = (
    "input_price",
    "output_price",
    "batch_input_price",
    "batch_output_price",
    "long_context_threshold",
    "input_price_long",
    "output_price_long",
    "batch_input_price_long",
    "batch_output_price_long",
)
_BATCH = (
    ("input_price", "batch_input_price"),
    ("output_price", "batch_output_price"),
    ("input_price_long", "batch_input_price_long"),
    ("output_price_long", "batch_output_price_long"),
)


def as_date(value: DateLike = None) -> dt.date:
    """A calendar date from an ISO string (``"2027-01-01"``) or a date; ``None`` is today.

    Prices change at a calendar date; the service's own day boundary (its time zone) is not modelled.

    >>> as_date("2027-01-01").year
    2027
    """
    if value is None:
        return dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise CatalogError(f"not a date: {value!r}; use YYYY-MM-DD, e.g. '2027-01-01'") from None


def check_price(owner: str, name: str, value: Any) -> None:
    """Raise :class:`CatalogError` unless a ``*_price`` / ``*_price_long`` value is a number >= 0."""
    if name.endswith(("_price", "_price_long")) and (not isinstance(value, int | float) or value < 0):
        raise CatalogError(f"catalogue entry {owner!r}: {name} must be a number >= 0, not {value!r}")


def with_batch_prices(values: Mapping[str, Any], discount: float) -> dict[str, Any]:
    """Batch prices filled in as ``discount`` × the standard ones where ``values`` leaves them out."""
    out = dict(values)
    for std, batch in _BATCH:
        if out.get(batch) is None and out.get(std) is not None:
            out[batch] = out[std] * discount
    return out


def build_schedule(
    owner: str, base: Mapping[str, Any], changes: Any, discount: float
) -> tuple[dict[str, Any], ...]:
    """Every price period, oldest first: ``base``'s prices, then one per item of ``changes``.

    A change states its ``from`` date and the prices that change; standard prices it leaves out are
    kept from the period before, batch prices it leaves out follow its standard prices.
    """
    periods: list[dict[str, Any]] = [
        {"from": base.get("prices_from"), **{k: base.get(k) for k in PRICE_FIELDS}}
    ]
    if not isinstance(changes, list | tuple):
        raise CatalogError(f"catalogue entry {owner!r}: price_changes must be a list of tables")
    dated = []
    for change in changes:
        if not isinstance(change, Mapping) or "from" not in change:
            raise CatalogError(f"catalogue entry {owner!r}: every price change needs a 'from' date")
        unknown = set(change) - set(PRICE_FIELDS) - {"from", "as_of", "source"}
        if unknown:
            raise CatalogError(
                f"catalogue entry {owner!r}: unknown price-change field(s) {', '.join(sorted(unknown))}"
            )
        for name, value in change.items():
            check_price(owner, name, value)
        dated.append((as_date(change["from"]), change))
    for start, change in sorted(dated, key=lambda item: item[0]):
        kept = {k: v for k, v in periods[-1].items() if k in PRICE_FIELDS and not k.startswith("batch_")}
        period = with_batch_prices({**kept, **{k: change[k] for k in PRICE_FIELDS if k in change}}, discount)
        period.update(
            {"from": start.isoformat(), "as_of": change.get("as_of"), "source": change.get("source")}
        )
        periods.append(period)
    return tuple(periods)


def period_on(schedule: Sequence[Mapping[str, Any]], day: DateLike) -> tuple[Mapping[str, Any], str | None]:
    """The period in force on ``day`` and its last day (``None``: no later change is known).

    Before the first dated period the earliest prices known apply.
    """
    when = as_date(day)
    index = 0
    for i, period in enumerate(schedule):
        start = period.get("from")
        if start is None or as_date(start) <= when:
            index = i
    if index + 1 < len(schedule):
        until = (as_date(schedule[index + 1]["from"]) - dt.timedelta(days=1)).isoformat()
        return schedule[index], until
    return schedule[index], None
