"""The model catalogue: prices and limits per model and tier, loaded from dated data."""

from __future__ import annotations

import functools
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from gembatch.errors import CatalogError, UnknownModel

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TIERS", "Catalog", "ModelInfo", "default_catalog", "load_catalog"]

TIERS = ("free", "tier1", "tier2", "tier3")
Mode = Literal["batch", "realtime"]
_DATA = Path(__file__).with_name("catalog.toml")


@dataclass(frozen=True)
class ModelInfo:
    """One model's prices (USD per 1M tokens) and limits.

    Thinking tokens are billed at the output price. ``batch_*`` prices default to
    ``batch_discount`` times the standard ones.
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


def _check_tier(tier: str) -> None:
    if tier not in TIERS:
        raise CatalogError(f"unknown tier {tier!r}; use one of {', '.join(TIERS)}")


_FIELDS = {f.name for f in fields(ModelInfo)}
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

    def __init__(self, models: Mapping[str, ModelInfo], defaults: Mapping[str, Any] | None = None):
        self._models = dict(models)
        self._defaults = dict(defaults or {})

    def get(self, model: str) -> ModelInfo:
        key = _normalise(model)
        try:
            return self._models[key]
        except KeyError:
            known = ", ".join(sorted(self._models))
            raise UnknownModel(
                f"unknown model {model!r}; known models: {known}. "
                "Add it with gb.load_catalog({...}) or GEMBATCH_CATALOG=file.toml"
            ) from None

    def __contains__(self, model: object) -> bool:
        return isinstance(model, str) and _normalise(model) in self._models

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._models))

    def ids(self) -> list[str]:
        return sorted(self._models)

    def with_overrides(self, source: str | os.PathLike[str] | Mapping[str, Any]) -> Catalog:
        """A new catalogue with models added or fields replaced, from a dict or a TOML/JSON file.

        The mapping is ``{model_id: {field: value}}`` or ``{"models": {...}, "defaults": {...}}``.
        """
        data = _read_source(source)
        models_data = data.get("models", data if "defaults" not in data else {})
        defaults = {**self._defaults, **data.get("defaults", {})}
        models = dict(self._models)
        for mid, entry in models_data.items():
            if not isinstance(entry, Mapping):
                raise CatalogError(f"catalogue entry for {mid!r} must be a table of fields")
            key = _normalise(mid)
            if key in models:
                models[key] = _apply(models[key], entry, key)
            else:
                models[key] = _build(key, entry, defaults)
        return Catalog(models, defaults)

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with one row per model (prices, limits per tier)."""
        import pandas as pd

        rows = []
        for mid in self.ids():
            m = self._models[mid]
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
    unknown = set(entry) - _FIELDS - {"batch_discount"}
    if unknown:
        raise CatalogError(f"catalogue entry {mid!r}: unknown field(s) {', '.join(sorted(unknown))}")
    for name, value in entry.items():
        if name.endswith(("_price", "_price_long")) and (not isinstance(value, int | float) or value < 0):
            raise CatalogError(f"catalogue entry {mid!r}: {name} must be a number >= 0, not {value!r}")
        if name in ("enqueued_tokens", "rpm", "tpm"):
            if not isinstance(value, Mapping):
                raise CatalogError(f"catalogue entry {mid!r}: {name} must map tier -> number")
            for tier in value:
                _check_tier(tier)


def _build(mid: str, entry: Mapping[str, Any], defaults: Mapping[str, Any]) -> ModelInfo:
    _check_fields(mid, entry)
    missing = [f for f in _REQUIRED if f not in entry]
    if missing:
        raise CatalogError(f"new catalogue entry {mid!r} needs field(s): {', '.join(missing)}")
    discount = float(entry.get("batch_discount", defaults.get("batch_discount", 0.5)))
    values: dict[str, Any] = {k: v for k, v in defaults.items() if k in _FIELDS}
    values.update({k: v for k, v in entry.items() if k != "batch_discount"})
    values["id"] = mid
    values.setdefault("batch_input_price", values["input_price"] * discount)
    values.setdefault("batch_output_price", values["output_price"] * discount)
    if values.get("input_price_long") is not None:
        values.setdefault("batch_input_price_long", values["input_price_long"] * discount)
    if values.get("output_price_long") is not None:
        values.setdefault("batch_output_price_long", values["output_price_long"] * discount)
    for name in ("enqueued_tokens", "rpm", "tpm"):
        values[name] = dict(values.get(name, {}))
    return ModelInfo(**values)


def _apply(base: ModelInfo, entry: Mapping[str, Any], mid: str) -> ModelInfo:
    _check_fields(mid, entry)
    changes = {k: v for k, v in entry.items() if k != "batch_discount"}
    for name in ("enqueued_tokens", "rpm", "tpm"):
        if name in changes:
            changes[name] = {**getattr(base, name), **changes[name]}
    return replace(base, **changes)


@functools.cache
def _builtin() -> Catalog:
    data = tomllib.loads(_DATA.read_text("utf-8"))
    defaults = data.get("defaults", {})
    models = {mid: _build(mid, entry, defaults) for mid, entry in data["models"].items()}
    return Catalog(models, defaults)


def default_catalog() -> Catalog:
    """The built-in catalogue, plus the file named by ``GEMBATCH_CATALOG`` if set."""
    extra = os.environ.get("GEMBATCH_CATALOG")
    return _builtin().with_overrides(extra) if extra else _builtin()


def load_catalog(source: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> Catalog:
    """The default catalogue with ``source`` (a dict, or a TOML/JSON path) applied on top."""
    base = default_catalog()
    return base if source is None else base.with_overrides(source)
