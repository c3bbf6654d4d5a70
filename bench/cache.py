"""Benchmark: the planning overhead of response-cache lookups for 12,000 synthetic 9k-char articles.

Fills a cache with answers for half of the articles, then times the cache keys (request lines +
SHA-256), the lookup (SQLite, WAL) and ``RunRequest.plan()`` with the cache on against off.
Target: lookups (keys + database) under 0.5 s on a 2-core machine. Not part of the test run.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gembatch as gb
from gembatch.cache import CacheEntry, lookup
from gembatch.cache.lookup import article_keys

N = 12_000
MODEL = "gemini-2.5-flash-lite"
PROMPT = "Summarise this article in one sentence:\n\n{text}"


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best wall time of ``repeat`` calls (the machine may be shared: see also :func:`cpu`)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cpu(fn: Callable[[], object], repeat: int = 3) -> float:
    """The best CPU time (every thread of the process) of ``repeat`` calls: what a busy machine
    does not inflate."""
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GEMBATCH_CACHE_DIR"] = str(Path(tmp) / "cache")
        os.environ["GEMBATCH_LIMITS_FILE"] = "off"
        articles = gb.read_articles(gb.synthetic_articles(N, seed=1), "id", model=MODEL)
        spec = gb.RequestSpec(model=MODEL, prompt=PROMPT)
        keys = article_keys(articles, spec, "emulator")
        cache = gb.ResponseCache(Path(tmp) / "cache")
        half = list(keys.items())[::2]
        cache.put_many(CacheEntry(k, "emulator", MODEL, "An answer of a sentence.", None, "STOP", 2300, 30, 0,
                                  0.0001, "batch", "bench", time.time()) for _, k in half)  # fmt: skip
        t_keys = best(lambda: article_keys(articles, spec, "emulator"))
        t_db = best(lambda: cache.get_many(keys.values()))
        t_lookup = best(lambda: lookup(articles, spec, "emulator", cache))
        c_lookup = cpu(lambda: lookup(articles, spec, "emulator", cache))
        found = lookup(articles, spec, "emulator", cache)
        cache.close()
        req = gb.RunRequest(inputs=articles, model=MODEL, prompt=PROMPT)
        t_on = best(req.plan, repeat=2)
        t_off = best(lambda: req.replace(cache=False).plan(), repeat=2)
        size = sum(p.stat().st_size for p in (Path(tmp) / "cache").iterdir()) / 1e6
    print(f"{N:,} articles, {len(found.hits):,} cached ({size:.1f} MB cache), {len(found.misses):,} to plan")
    print(f"  cache keys (prompt pieces + SHA-256): {t_keys:6.3f} s")
    print(f"  database lookup of {N:,} keys:        {t_db:6.3f} s")
    print(
        f"  lookup (keys + database):             {t_lookup:6.3f} s   target < 0.5 s "
        f"(CPU {c_lookup:.3f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"  RunRequest.plan() cache on:           {t_on:6.3f} s   (plans the {len(found.misses):,} misses)")
    print(f"  RunRequest.plan() cache off:          {t_off:6.3f} s   (plans all {N:,})")


if __name__ == "__main__":
    main()
