"""The response cache shared across runs: answers keyed by backend, model and request, paid for once."""

from __future__ import annotations

from gembatch.cache.keys import CACHE_DIR_VAR, default_cache_dir, request_key, resolve_cache_dir
from gembatch.cache.lookup import CacheLookup, lookup, open_cache
from gembatch.cache.store import CacheEntry, CacheError, CacheInfo, ResponseCache

__all__ = [
    "CACHE_DIR_VAR",
    "CacheEntry",
    "CacheError",
    "CacheInfo",
    "CacheLookup",
    "ResponseCache",
    "default_cache_dir",
    "lookup",
    "open_cache",
    "request_key",
    "resolve_cache_dir",
]
