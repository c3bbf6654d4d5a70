"""Which articles the cache already answers: keys for an articles frame, hits, misses and money saved."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gembatch.cache.keys import resolve_cache_dir, spec_keys
from gembatch.cache.store import CacheEntry, ResponseCache

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.inputs.request_lines import RequestSpec
    from gembatch.planning.cost import Estimate

__all__ = [
    "CacheLookup", "article_keys", "backend_kind", "cache_note", "entries_for", "lookup", "note_estimate",
    "open_cache",
]  # fmt: skip


@dataclass(frozen=True)
class CacheLookup:
    """The cache's answer for a set of articles: ``hits`` (article id → entry) and the rest, ``misses``.

    ``saved_usd`` counts each distinct request once (identical articles are sent once anyway).
    """

    backend: str
    directory: Path | None
    hits: Mapping[str, CacheEntry] = field(default_factory=dict)
    misses: tuple[str, ...] = ()

    @property
    def saved_usd(self) -> float:
        return float(sum({e.key: e.cost_usd for e in self.hits.values()}.values()))

    def figures(self) -> dict[str, Any]:
        """``cache_hits``, ``cache_misses``, ``cache_saved_usd``: what estimates and summaries show."""
        return {"cache_hits": len(self.hits), "cache_misses": len(self.misses),
                "cache_saved_usd": self.saved_usd}  # fmt: skip


def open_cache(enabled: bool = True, cache_dir: str | os.PathLike[str] | None = None) -> ResponseCache | None:
    """The cache to use (``cache_dir``, else ``$GEMBATCH_CACHE_DIR``, else the user's cache dir), or None
    when ``enabled`` is false or ``GEMBATCH_CACHE_DIR=off``."""
    if not enabled:
        return None
    directory = resolve_cache_dir(cache_dir)
    return None if directory is None else ResponseCache(directory)


def article_keys(articles: pd.DataFrame, spec: RequestSpec, backend: str) -> dict[str, str]:
    """Article id → cache key of the request ``spec`` makes of it for ``backend``."""
    return dict(zip(map(str, articles.index), spec_keys(articles, spec, backend), strict=True))


def lookup(
    articles: pd.DataFrame, spec: RequestSpec, backend: str, cache: ResponseCache | None
) -> CacheLookup:
    """Split ``articles`` into cache hits and misses (every article a miss without a cache)."""
    if cache is None or not len(articles):
        return CacheLookup(
            backend, None if cache is None else cache.directory, {}, tuple(map(str, articles.index))
        )
    keys = article_keys(articles, spec, backend)
    found = cache.get_many(keys.values())
    hits = {aid: found[k] for aid, k in keys.items() if k in found}
    misses = tuple(aid for aid in keys if aid not in hits)
    return CacheLookup(backend, cache.directory, hits, misses)


def entries_for(keys: Mapping[str, str], rows: Iterable[Any], backend: str, model: str,
                run_id: str | None) -> list[CacheEntry]:  # fmt: skip
    """Cache entries from a run's succeeded result rows (article id → key given in ``keys``)."""
    out = []
    for r in rows:
        key = keys.get(str(r["article_id"]))
        if key is None:
            continue
        out.append(CacheEntry(
            key=key, backend=backend, model=model, output_text=r["output_text"], output_json=r["output_json"],
            finish_reason=r["finish_reason"], prompt_tokens=int(r["prompt_tokens"] or 0),
            output_tokens=int(r["output_tokens"] or 0), thoughts_tokens=int(r["thoughts_tokens"] or 0),
            cost_usd=float(r["cost_usd"] or 0.0), run_id=run_id, created_at=float(r["time"]),
            mode="realtime" if str(r["chunk_id"]).startswith("rt") else "batch",
        ))  # fmt: skip
    return out


def backend_kind(client: Any = None) -> str:
    """The backend name cache keys carry: ``client``'s, else what :func:`gembatch.connect` would choose
    (the real service when an API key is found, else the emulator), without connecting."""
    if client is not None:
        from gembatch.transport.connect import as_transport

        return as_transport(client).name
    from gembatch.transport.credentials import key_from_env

    return "gemini" if key_from_env()[0] else "emulator"


def note_estimate(est: Estimate, found: CacheLookup | None) -> bool:
    """Put the cache figures into an estimate's summary when the cache answers something (then True);
    an estimate the cache changes nothing in stays exactly the library's."""
    if found is None or not found.hits:
        return False
    est.summary.update(found.figures())
    return bool(found.hits)


def cache_note(summary: Mapping[str, Any]) -> str:
    """The plan's line about the cache: hits, money saved, articles planned."""
    from gembatch.presentation import formatters as fmt

    hits, misses = fmt.count(summary["cache_hits"]), fmt.count(summary["cache_misses"])
    saved = fmt.usd(summary["cache_saved_usd"])
    return f"cache: {hits} articles already answered (saves {saved}); {misses} planned"
