"""Vertex AI batch limits from the catalogue's ``[vertex]`` table, applied to the model catalogue.

Planning a Vertex run with ``gb.plan(..., catalog=gb.vertex_catalog())`` sizes jobs by Vertex's
limits (1 GB per input file, 200,000 requests per job, no tier quota) instead of the Developer
API's (2 GB files, per-tier enqueued tokens).

>>> vertex_limits()["requests_per_job"]
200000
>>> vertex_catalog().get("gemini-2.5-flash").file_limit_bytes
1000000000
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from gembatch.planning.catalog import TIERS, Catalog, default_catalog

__all__ = ["vertex_catalog", "vertex_limits"]

_DATA = Path(__file__).with_name("catalog.toml")


@cache
def _table() -> dict[str, Any]:
    with _DATA.open("rb") as fh:
        return dict(tomllib.load(fh).get("vertex") or {})


def vertex_limits() -> dict[str, Any]:
    """The ``[vertex]`` table: ``requests_per_job``, ``file_limit_bytes``, ``enqueued_tokens``, …"""
    return dict(_table())


def vertex_catalog(catalog: Catalog | None = None) -> Catalog:
    """``catalog`` (default: the built-in one) with Vertex's batch limits on every text model."""
    base = catalog or default_catalog()
    limits = _table()
    entry = {
        "enqueued_tokens": {tier: int(limits["enqueued_tokens"]) for tier in TIERS},
        "file_limit_bytes": int(limits["file_limit_bytes"]),
        "concurrent_batch_jobs": int(limits["concurrent_batch_jobs"]),
        "batch_expiry_hours": float(limits["batch_expiry_hours"]),
    }
    vertex = base.with_overrides({mid: entry for mid in base.ids() if base.get(mid).kind == "text"})
    vertex.service = "vertex"  # limits the Developer API taught this machine do not apply
    return vertex
