"""Interim ``make demo``: make the synthetic 12k set if absent, then print its estimate and plans."""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["main"]

DATA = Path("data/12k.jsonl")
MODEL = "gemini-2.5-flash-lite"


def main(path: Path = DATA, model: str = MODEL) -> int:
    from gembatch.articles import read_articles
    from gembatch.cost import estimate
    from gembatch.datasets import synthetic_articles, write_articles
    from gembatch.plan import plan

    if not path.exists():
        t0 = time.perf_counter()
        write_articles(synthetic_articles(12_000), path)
        print(f"wrote 12,000 synthetic articles to {path} in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    articles = read_articles(path, model=model)
    print(f"read {len(articles):,} articles ({articles['chars'].mean():,.0f} characters on average) "
          f"in {time.perf_counter() - t0:.2f} s\n")  # fmt: skip
    print(repr(estimate(articles, model=model, tier="tier1")), end="\n\n")
    for policy in ("waves", "rolling"):
        print(repr(plan(articles, model=model, tier="tier1", policy=policy)), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
