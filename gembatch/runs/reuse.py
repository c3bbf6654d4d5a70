"""A run and the response cache: answers taken from it when the run is created, given to it once paid for."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from gembatch.cache.lookup import CacheLookup, article_keys, entries_for, open_cache
from gembatch.cache.store import CacheError
from gembatch.presentation import formatters as fmt
from gembatch.runs.store import RESULT_FIELDS, RunStore

if TYPE_CHECKING:
    from gembatch.runs.context import Context

__all__ = ["CACHE_LABEL", "absorb", "record_hits"]

#: ``chunk_id`` of articles answered from the cache (results table and results frame).
CACHE_LABEL = "cache"
_META = "cache"
_WATERMARK = "cache_rowid"
log = logging.getLogger(__name__)


def record_hits(store: RunStore, found: CacheLookup | None, now: float, reps: Collection[str]) -> None:
    """Write the cached answers into a new run's store (inside its creating transaction).

    Each hit is a succeeded result at no cost (``chunk_id`` ``cache``, attempt 0, no tokens used by
    this run; ``reps`` are the articles whose request is sent, the others follow them); the run's
    ``cache`` meta keeps the directory, backend and the figures the summary shows.
    """
    if found is None:
        store.set_meta(_META, {"enabled": False})
        return
    rows: list[tuple[Any, ...]] = []
    for aid, entry in found.hits.items():
        if aid not in reps:
            continue  # identical articles follow their representative
        row = {
            "article_id": aid, "chunk_id": CACHE_LABEL, "attempt": 0, "status": "succeeded",
            "output_text": entry.output_text, "output_json": entry.output_json, "prompt_tokens": 0,
            "output_tokens": 0, "thoughts_tokens": 0, "cost_usd": 0.0, "finish_reason": entry.finish_reason,
            "error": None, "time": now,
        }  # fmt: skip
        rows.append(tuple(row[f] for f in RESULT_FIELDS))
    if rows:
        store.record_cached(rows, CACHE_LABEL)
    store.set_meta(_META, {
        "enabled": True, "dir": str(found.directory), "backend": found.backend, **found.figures(),
    })  # fmt: skip
    if found.hits:
        store.event(
            "cache",
            f"{fmt.count(len(found.hits))} articles answered from the cache "
            f"(saved {fmt.usd(found.saved_usd)}); {fmt.count(len(found.misses))} to run",
        )


def figures(store: RunStore) -> Mapping[str, Any]:
    """The cache figures recorded when the run was created (empty for a run without the cache)."""
    return store.get_meta(_META) or {}


def absorb(ctx: Context) -> int:
    """Give the cache every answer this run was paid for since the last call; returns how many were new.

    Failed and retryable answers are never cached; a cache that cannot be opened is logged, not raised
    (the run's results are in its ledger whatever happens to the cache).
    """
    meta = figures(ctx.store)
    if not meta.get("enabled") or not meta.get("dir"):
        return 0
    store = ctx.store
    mark = int(store.get_meta(_WATERMARK) or 0)
    rows = store.answers_after(mark, CACHE_LABEL)
    if not rows:
        return 0
    try:
        cache = open_cache(True, meta["dir"])
        if cache is None:
            return 0
        with cache:
            ids = [str(r["article_id"]) for r in rows]
            keys = article_keys(ctx.article_rows(list(dict.fromkeys(ids))), ctx.spec, str(meta["backend"]))
            new = cache.put_many(
                entries_for(keys, rows, str(meta["backend"]), ctx.spec.model, ctx.config.run_id)
            )
    except (CacheError, OSError, KeyError, ValueError) as exc:  # the ledger keeps them whatever happens here
        log.warning("gembatch: answers not cached: %s", exc)
        return 0
    store.set_meta(_WATERMARK, int(rows[-1]["rowid"]))
    return new
