"""The model lineup as gembatch knows it (``gb.models()``), and a check of it against the service's list."""

from __future__ import annotations

from typing import Any

import pandas as pd

from gembatch.planning.catalog import Catalog, ModelInfo, default_catalog
from gembatch.planning.price_schedule import DateLike, as_date

__all__ = ["check_models", "models"]

_LIMITS = ("enqueued_tokens", "rpm", "tpm", "context_window", "max_output_tokens", "thinking")


def _status(info: ModelInfo) -> str:
    return f"retired {info.retired}" if info.is_retired() else info.status


def models(
    tier: str = "tier1",
    *,
    billing_date: DateLike = None,
    project: Any = "auto",
    catalog: Catalog | None = None,
    include_retired: bool = True,
) -> pd.DataFrame:
    """One row per model: prices on ``billing_date`` and at the next change, limits, their origin.

    Index ``model``. Prices are USD per 1M tokens (``batch_*`` and standard); ``next_*`` are the
    prices from ``next_prices_from`` (``NaN`` when no change is known). ``enqueued_tokens``,
    ``rpm`` and ``tpm`` are for ``tier``. ``learned`` and ``set`` name the limits that come from
    ``project``'s records — learned from the service, or set by you — instead of the catalogue;
    ``assumed`` lists the figures that are gembatch's guesses rather than published or learned.

    Examples
    --------
    >>> frame = models(billing_date="2026-12-01", project=None)
    >>> frame.loc["gemini-3.8-flash", "next_prices_from"]
    '2027-01-01'
    >>> float(frame.loc["gemini-3.8-flash", "next_batch_input_price"])
    0.75
    """
    from gembatch.planning.learned_limits import apply_learned, limit_origins

    catalog = catalog or default_catalog()
    day = as_date(billing_date).isoformat()
    rows = []
    for mid in catalog.ids():
        base = catalog.get(mid, day)
        if base.is_retired() and not include_retired:
            continue
        info, _ = apply_learned(base, tier, project)
        origins = limit_origins(mid, tier, project)
        nxt = info.next_prices()
        rows.append(
            {
                "model": mid,
                "status": _status(info),
                "kind": info.kind,
                "batch_input_price": info.batch_input_price,
                "batch_output_price": info.batch_output_price,
                "input_price": info.input_price,
                "output_price": info.output_price,
                "long_context_threshold": info.long_context_threshold,
                "batch_input_price_long": info.batch_input_price_long,
                "batch_output_price_long": info.batch_output_price_long,
                "prices_from": info.prices_from,
                "prices_until": info.prices_until,
                "next_prices_from": nxt.prices_from if nxt else None,
                "next_batch_input_price": nxt.batch_input_price if nxt else None,
                "next_batch_output_price": nxt.batch_output_price if nxt else None,
                "next_input_price": nxt.input_price if nxt else None,
                "next_output_price": nxt.output_price if nxt else None,
                "context_window": info.context_window,
                "max_output_tokens": info.max_output_tokens,
                "thinking": info.thinking,
                "thinking_by_default": info.thinking_by_default,
                "enqueued_tokens": info.enqueued_tokens.get(tier),
                "rpm": info.rpm.get(tier),
                "tpm": info.tpm.get(tier),
                "learned": ", ".join(n for n in _LIMITS if origins.get(n) == "learned"),
                "set": ", ".join(n for n in _LIMITS if origins.get(n) == "set"),
                "assumed": ", ".join(info.assumed),
                "successor": info.successor,
                "as_of": info.as_of,
                "source": info.source,
            }
        )
    frame = pd.DataFrame(rows).set_index("model")
    for col in ("enqueued_tokens", "rpm", "tpm", "long_context_threshold"):
        frame[col] = frame[col].astype("Int64")
    frame.attrs.update(tier=tier, billing_date=day)
    return frame


def check_models(client: Any = None, *, catalog: Catalog | None = None, learn: bool = True) -> pd.DataFrame:
    """Compare the catalogue with the service's ``models.list``: one row per model and finding.

    ``client`` defaults to ``gb.connect()`` (the real service when an API key is set, else the
    emulator — which serves gembatch's own catalogue, so there the check proves the plumbing, not the
    data). ``frame.attrs["against"]`` says which. Columns: ``model``, ``verdict`` (``ok``,
    ``differs``, ``not served``, ``not in catalogue``, ``retired``), ``detail``. With ``learn``
    the token limits and thinking support the real service states are recorded for the client's
    project and used by later plans.
    """
    from gembatch.transport.connect import connect, describe, is_emulator

    client = client or connect()
    catalog = catalog or default_catalog()
    served = {str(m.name).removeprefix("models/"): m for m in client.models.list()}
    rows: list[dict[str, Any]] = []
    for mid in catalog.ids():
        info = catalog.get(mid)
        remote = served.get(mid)
        if remote is None:
            verdict = "retired" if info.is_retired() else "not served"
            detail = (
                f"retired {info.retired} as the catalogue says"
                if info.is_retired()
                else "the service does not list it: retired or renamed? "
                + (f"successor: {info.successor}" if info.successor else "check the deprecations page")
            )
            rows.append({"model": mid, "verdict": verdict, "detail": detail})
            continue
        diffs = _differences(info, remote)
        if info.is_retired():
            diffs.insert(0, f"the catalogue says retired {info.retired}, yet the service lists it")
        if learn and not is_emulator(client):  # the emulator serves our own catalogue: nothing to learn
            _learn(client, mid, remote)
        verdict = "differs" if diffs else "ok"
        rows.append({"model": mid, "verdict": verdict, "detail": "; ".join(diffs) or "as catalogued"})
    for name, remote in sorted(served.items()):
        actions = set(remote.supported_actions or [])
        if (
            name not in catalog
            and name.startswith("gemini-")
            and actions & {"generateContent", "batchGenerateContent"}
        ):
            unknown = "served but unknown to gembatch: add it with GEMBATCH_CATALOG=file.toml"
            rows.append({"model": name, "verdict": "not in catalogue", "detail": unknown})
    frame = pd.DataFrame(rows, columns=["model", "verdict", "detail"])
    frame.attrs["against"] = describe(client)
    frame.attrs["emulator"] = is_emulator(client)
    return frame


def _differences(info: ModelInfo, remote: Any) -> list[str]:
    out = []
    pairs = (
        ("context window", info.context_window, remote.input_token_limit),
        ("output limit", info.max_output_tokens, remote.output_token_limit),
        ("thinking", info.thinking, remote.thinking),
    )
    for label, ours, theirs in pairs:
        if theirs is not None and ours != theirs:
            out.append(f"{label}: catalogue {_num(ours)}, service {_num(theirs)}")
    return out


def _num(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _learn(client: Any, mid: str, remote: Any) -> None:
    from gembatch.planning.learned_limits import project_of, record

    project = project_of(client)
    if project is None:
        return
    for name, value in (
        ("context_window", remote.input_token_limit),
        ("max_output_tokens", remote.output_token_limit),
        ("thinking", remote.thinking),
    ):
        if value is not None:
            record(project, mid, name, value, tier=None, source="models.list", by="service")
