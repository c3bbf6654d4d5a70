"""The model catalogue: prices and limits per model and tier, loaded from dated data."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gembatch.errors import CatalogError, UnknownModel
from gembatch.planning.price_schedule import (
    PRICE_FIELDS,
    DateLike,
    as_date,
    build_schedule,
    check_price,
    period_on,
    with_batch_prices,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MODEL",
    "TIERS",
    "Catalog",
    "ModelInfo",
    "TierInfo",
    "as_date",
    "default_catalog",
    "load_catalog",
]

TIERS = ("free", "tier1", "tier2", "tier3")
#: The model examples, notebooks and commands default to: the current generation's Flash-Lite.
DEFAULT_MODEL = "gemini-3.5-flash-lite"
Mode = Literal["batch", "realtime"]
_DATA = Path(__file__).with_name("catalog.toml")


@dataclass(frozen=True)
class ModelInfo:
    """One model's prices (USD per 1M tokens) and limits, at one billing date.

    Thinking tokens are billed at the output price. ``batch_*`` prices default to
    ``batch_discount`` times the standard ones. The prices are those in force on ``billing_date``
    (from ``prices_from`` through ``prices_until``, inclusive; ``None`` = no known bound);
    ``price_schedule`` holds every dated period and :meth:`on` picks another date. Fields named in
    ``assumed`` are guesses, not published figures. ``retired`` is the date the service shut the
    model down, ``successor`` the model to use instead.
    """

    id: str
    as_of: str
    source: str
    context_window: int
    max_output_tokens: int
    input_price: float
    output_price: float
    batch_input_price: float
    batch_output_price: float
    enqueued_tokens: Mapping[str, int] = field(default_factory=dict)
    rpm: Mapping[str, int] = field(default_factory=dict)
    tpm: Mapping[str, int] = field(default_factory=dict)
    long_context_threshold: int | None = None
    input_price_long: float | None = None
    output_price_long: float | None = None
    batch_input_price_long: float | None = None
    batch_output_price_long: float | None = None
    concurrent_batch_jobs: int = 100
    inline_limit_bytes: int = 20_000_000
    file_limit_bytes: int = 2_000_000_000
    file_storage_bytes: int = 20_000_000_000
    batch_expiry_hours: float = 48.0
    kind: str = "text"  # "text" (generateContent) or "embedding"
    status: str = "stable"  # "stable", "preview", or "unlisted" (no longer on the pricing page)
    thinking: bool = False
    thinking_by_default: bool = False
    retired: str | None = None
    successor: str | None = None
    assumed: Sequence[str] = ()
    price_schedule: Sequence[Mapping[str, Any]] = ()
    prices_from: str | None = None
    prices_until: str | None = None
    billing_date: str | None = None

    def prices(self, mode: Mode = "batch", prompt_tokens: int = 0) -> tuple[float, float]:
        """(input, output) USD per 1M tokens for one request of ``prompt_tokens``."""
        long = self.long_context_threshold is not None and prompt_tokens > self.long_context_threshold
        if mode == "batch":
            if long and self.batch_input_price_long is not None:
                return self.batch_input_price_long, self.batch_output_price_long or 0.0
            return self.batch_input_price, self.batch_output_price
        if mode == "realtime":
            if long and self.input_price_long is not None:
                return self.input_price_long, self.output_price_long or 0.0
            return self.input_price, self.output_price
        raise CatalogError(f"mode must be 'batch' or 'realtime', not {mode!r}")

    def cost(
        self, input_tokens: int, output_tokens: int, mode: Mode = "batch", thoughts_tokens: int = 0
    ) -> float:
        """USD for one request; thinking tokens are billed as output."""
        pin, pout = self.prices(mode, input_tokens)
        return (input_tokens * pin + (output_tokens + thoughts_tokens) * pout) / 1e6

    def enqueued_limit(self, tier: str) -> int:
        """The batch enqueued-token limit for ``tier`` (raises if batch is unavailable there)."""
        _check_tier(tier)
        if tier not in self.enqueued_tokens:
            have = ", ".join(sorted(self.enqueued_tokens)) or "none"
            raise CatalogError(
                f"{self.id}: no batch enqueued-token limit for {tier!r} (batch is not available "
                f"on the free tier); tiers with batch: {have}"
            )
        return int(self.enqueued_tokens[tier])

    def rate_limits(self, tier: str) -> tuple[int, int]:
        """(requests per minute, tokens per minute) for real-time calls on ``tier``."""
        _check_tier(tier)
        if tier not in self.rpm or tier not in self.tpm:
            raise CatalogError(f"{self.id}: no RPM/TPM figures for {tier!r}; add them with an override")
        return int(self.rpm[tier]), int(self.tpm[tier])

    def on(self, day: DateLike = None) -> ModelInfo:
        """This model with the prices in force on ``day`` (default today).

        Examples
        --------
        >>> flash = default_catalog().get("gemini-3.8-flash")
        >>> flash.on("2026-12-31").input_price, flash.on("2027-01-01").input_price
        (0.75, 1.5)
        """
        when = as_date(day).isoformat()
        if not self.price_schedule:
            return replace(self, billing_date=when)
        period, until = period_on(self.price_schedule, when)
        dated: dict[str, Any] = {k: period.get(k) for k in PRICE_FIELDS}
        dated.update(prices_from=period.get("from"), prices_until=until, billing_date=when)
        return replace(self, **dated)

    def next_prices(self) -> ModelInfo | None:
        """The model at its next price change after these prices, or ``None`` if none is known."""
        if self.prices_until is None:
            return None
        return self.on(as_date(self.prices_until) + dt.timedelta(days=1))

    def is_retired(self, day: DateLike = None) -> bool:
        """Whether the service had shut this model down by ``day`` (default: the billing date, else today)."""
        if self.retired is None:
            return False
        return as_date(day or self.billing_date) >= as_date(self.retired)


@dataclass(frozen=True)
class TierInfo:
    """What the catalogue knows about a tier: its monthly spend cap (reported or confirmed)."""

    name: str
    as_of: str = ""
    source: str = ""
    spend_cap_usd_month: float | None = None
    spend_cap_confirmed: bool = False


def _check_tier(tier: str) -> None:
    if tier not in TIERS:
        raise CatalogError(f"unknown tier {tier!r}; use one of {', '.join(TIERS)}")


_FIELDS = {f.name for f in fields(ModelInfo)}
_ENTRY_ONLY = {"batch_discount", "price_changes"}
_DERIVED = {"price_schedule", "prices_until", "billing_date"}
_TIER_FIELDS = {f.name for f in fields(TierInfo)} - {"name"}
_REQUIRED = ("as_of", "source", "context_window", "max_output_tokens", "input_price", "output_price")


def _normalise(model: str) -> str:
    return model.removeprefix("models/").strip()


class Catalog:
    """The set of known models. ``catalog.get("gemini-2.5-flash")`` → :class:`ModelInfo`.

    Examples
    --------
    >>> cat = default_catalog().with_overrides({"my-model": {
    ...     "as_of": "2026-11-01", "source": "contract", "context_window": 32000,
    ...     "max_output_tokens": 8192, "input_price": 0.2, "output_price": 0.8,
    ...     "enqueued_tokens": {"tier1": 1_000_000}}})
    >>> cat.get("models/my-model").batch_input_price
    0.1
    """

    def __init__(
        self,
        models: Mapping[str, ModelInfo],
        defaults: Mapping[str, Any] | None = None,
        tiers: Mapping[str, TierInfo] | None = None,
    ):
        self._models = dict(models)
        self._defaults = dict(defaults or {})
        self._tiers = dict(tiers or {})
        self._dated: dict[tuple[str, str], ModelInfo] = {}
        #: the service whose limits these are: ``"gemini"`` (Developer API tiers) or ``"vertex"``
        self.service = "gemini"

    def get(self, model: str, billing_date: DateLike = None) -> ModelInfo:
        """The model with the prices in force on ``billing_date`` (default today)."""
        key = _normalise(model)
        try:
            base = self._models[key]
        except KeyError:
            known = ", ".join(sorted(self._models))
            raise UnknownModel(
                f"unknown model {model!r}; known models: {known}. "
                "Add it with --catalog FILE.toml (Python: gb.load_catalog) or GEMBATCH_CATALOG=FILE.toml"
            ) from None
        day = as_date(billing_date).isoformat()
        if (key, day) not in self._dated:
            self._dated[(key, day)] = base.on(day)
        return self._dated[(key, day)]

    def tier(self, name: str) -> TierInfo:
        """The tier's data (spend cap); a tier the data does not describe has no known cap."""
        _check_tier(name)
        return self._tiers.get(name, TierInfo(name))

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and _normalise(model) in self._models

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._models))

    def ids(self) -> list[str]:
        return sorted(self._models)

    def with_overrides(self, source: str | os.PathLike[str] | Mapping[str, Any]) -> Catalog:
        """A new catalogue with models added or fields replaced, from a dict or a TOML/JSON file.

        The mapping is ``{model_id: {field: value}}`` or ``{"models": {...}, "defaults": {...},
        "tiers": {...}}``. Setting a price of an existing model replaces its whole price schedule
        (with ``price_changes`` if given): your prices are the ones that apply, on every date.
        """
        data = _read_source(source)
        structured = any(k in data for k in ("models", "defaults", "tiers"))
        models_data = data.get("models", {}) if structured else data
        defaults = {**self._defaults, **data.get("defaults", {})}
        models = dict(self._models)
        for mid, entry in models_data.items():
            if not isinstance(entry, Mapping):
                raise CatalogError(f"catalogue entry for {mid!r} must be a table of fields")
            key = _normalise(mid)
            if key in models:
                models[key] = _apply(models[key], entry, key, defaults)
            else:
                models[key] = _build(key, entry, defaults)
        tiers = dict(self._tiers)
        for name, entry in data.get("tiers", {}).items():
            tiers[name] = _tier(name, entry, tiers.get(name))
        merged = Catalog(models, defaults, tiers)
        merged.service = self.service
        return merged

    def to_frame(self, billing_date: DateLike = None) -> pd.DataFrame:
        """A DataFrame with one row per model (prices on ``billing_date``, limits per tier).

        :func:`gembatch.models` shows more: next prices, learned limits, what is assumed.
        """
        import pandas as pd

        rows = []
        for mid in self.ids():
            m = self.get(mid, billing_date)
            row: dict[str, Any] = {
                "model": mid,
                "input_price": m.input_price,
                "output_price": m.output_price,
                "batch_input_price": m.batch_input_price,
                "batch_output_price": m.batch_output_price,
                "context_window": m.context_window,
            }
            for tier in TIERS[1:]:
                row[f"enqueued_{tier}"] = m.enqueued_tokens.get(tier)
            row["as_of"] = m.as_of
            row["source"] = m.source
            rows.append(row)
        return pd.DataFrame(rows).set_index("model")

    def __repr__(self) -> str:
        return f"Catalog({len(self._models)} models: {', '.join(self.ids())})"


def _read_source(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogError(f"cannot read catalogue file {path}: {exc.strerror}") from None
    try:
        data = json.loads(raw) if path.suffix == ".json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "JSON" if path.suffix == ".json" else "TOML"
        raise CatalogError(f"catalogue file {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise CatalogError(f"catalogue file {path} must hold a table of models")
    return data


def _check_fields(mid: str, entry: Mapping[str, Any]) -> None:
    unknown = set(entry) - (_FIELDS - _DERIVED) - _ENTRY_ONLY
    if unknown:
        raise CatalogError(f"catalogue entry {mid!r}: unknown field(s) {', '.join(sorted(unknown))}")
    for name, value in entry.items():
        check_price(mid, name, value)
        if name in ("enqueued_tokens", "rpm", "tpm"):
            if not isinstance(value, Mapping):
                raise CatalogError(f"catalogue entry {mid!r}: {name} must map tier -> number")
            for tier in value:
                _check_tier(tier)
        if name == "retired" and value is not None:
            as_date(value)


def _build(mid: str, entry: Mapping[str, Any], defaults: Mapping[str, Any]) -> ModelInfo:
    _check_fields(mid, entry)
    missing = [f for f in _REQUIRED if f not in entry]
    if missing:
        raise CatalogError(f"new catalogue entry {mid!r} needs field(s): {', '.join(missing)}")
    discount = float(entry.get("batch_discount", defaults.get("batch_discount", 0.5)))
    values: dict[str, Any] = {k: v for k, v in defaults.items() if k in _FIELDS}
    values.update({k: v for k, v in entry.items() if k not in _ENTRY_ONLY})
    values = with_batch_prices(values, discount)
    values["id"] = mid
    for name in ("enqueued_tokens", "rpm", "tpm"):
        values[name] = dict(values.get(name, {}))
    values["assumed"] = tuple(values.get("assumed", ()))
    values["price_schedule"] = build_schedule(mid, values, entry.get("price_changes", ()), discount)
    return ModelInfo(**values)


def _apply(base: ModelInfo, entry: Mapping[str, Any], mid: str, defaults: Mapping[str, Any]) -> ModelInfo:
    _check_fields(mid, entry)
    changes = {k: v for k, v in entry.items() if k not in _ENTRY_ONLY}
    for name in ("enqueued_tokens", "rpm", "tpm"):
        if name in changes:
            changes[name] = {**getattr(base, name), **changes[name]}
    if any(k in PRICE_FIELDS for k in entry) or "price_changes" in entry:
        discount = float(entry.get("batch_discount", defaults.get("batch_discount", 0.5)))
        # new standard prices without batch ones: the batch prices follow, never stay stale
        prices = {k: getattr(base, k) for k in PRICE_FIELDS if not k.startswith("batch_")}
        prices.update({k: v for k, v in changes.items() if k in PRICE_FIELDS})
        prices = with_batch_prices(prices, discount)
        changes.update(prices)
        changes["price_schedule"] = build_schedule(mid, prices, entry.get("price_changes", ()), discount)
    return replace(base, **changes)


def _tier(name: str, entry: Any, base: TierInfo | None) -> TierInfo:
    _check_tier(name)
    if not isinstance(entry, Mapping):
        raise CatalogError(f"catalogue tier {name!r} must be a table of fields")
    unknown = set(entry) - _TIER_FIELDS
    if unknown:
        raise CatalogError(f"catalogue tier {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
    cap = entry.get("spend_cap_usd_month")
    if cap is not None and (not isinstance(cap, int | float) or cap < 0):
        raise CatalogError(f"catalogue tier {name!r}: spend_cap_usd_month must be a number >= 0")
    return replace(base or TierInfo(name), **entry)


@functools.cache
def _builtin() -> Catalog:
    data = tomllib.loads(_DATA.read_text("utf-8"))
    defaults = data.get("defaults", {})
    models = {mid: _build(mid, entry, defaults) for mid, entry in data["models"].items()}
    tiers = {name: _tier(name, entry, None) for name, entry in data.get("tiers", {}).items()}
    return Catalog(models, defaults, tiers)


def default_catalog() -> Catalog:
    """The built-in catalogue, plus the file named by ``GEMBATCH_CATALOG`` if set."""
    extra = os.environ.get("GEMBATCH_CATALOG")
    return _builtin().with_overrides(extra) if extra else _builtin()


def load_catalog(source: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> Catalog:
    """The default catalogue with ``source`` (a dict, or a TOML/JSON path) applied on top."""
    base = default_catalog()
    return base if source is None else base.with_overrides(source)
