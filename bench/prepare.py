"""Benchmark: read, validate, estimate, plan and write the JSONL for 12,000 synthetic 9k-char articles.

Prints seconds per step, peak RSS (resource) and the Python-heap peak (tracemalloc, second pass).
Target: under 2 s and under 500 MB on a 2-core machine. Not part of the test run.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import gembatch as gb
from gembatch.inputs.request_lines import iter_request_lines, write_jsonl

N = 12_000
MODEL = "gemini-2.5-flash-lite"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(src: Path, out: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    t = time.perf_counter()
    articles = gb.read_articles(src, model=MODEL)  # read + validate
    times["read+validate"] = time.perf_counter() - t
    t = time.perf_counter()
    gb.estimate(articles, model=MODEL)
    times["estimate"] = time.perf_counter() - t
    t = time.perf_counter()
    p = gb.plan(articles, model=MODEL, policy="waves")
    times["plan"] = time.perf_counter() - t
    t = time.perf_counter()
    nbytes = write_jsonl(iter_request_lines(articles, p.spec), out)
    times["write jsonl"] = time.perf_counter() - t
    times["_bytes"] = nbytes
    return times


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "12k.jsonl", Path(tmp) / "requests.jsonl"
        # Generate in a child process so its memory does not count towards the peak here.
        subprocess.run(
            [sys.executable, "-m", "gembatch", "datasets", "synth", str(N), "-o", str(src)],
            check=True, capture_output=True,
        )  # fmt: skip
        base = rss_mb()
        times = run(src, out)
        peak = rss_mb()
        total = sum(v for k, v in times.items() if not k.startswith("_"))
        size_in, size_out = src.stat().st_size / 1e6, times["_bytes"] / 1e6
        print(f"input: {N:,} articles, {size_in:.0f} MB JSONL; output {size_out:.0f} MB of request lines")
        for k, v in times.items():
            if not k.startswith("_"):
                print(f"  {k:<14} {v:6.3f} s")
        print(f"  {'total':<14} {total:6.3f} s   (target < 2 s)")
        print(f"peak RSS {peak:.0f} MB (process, after imports {base:.0f} MB; target < 500 MB)")
        tracemalloc.start()
        run(src, out)
        _, heap = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"peak Python heap {heap / 1e6:.0f} MB (tracemalloc; excludes pyarrow buffers)")


if __name__ == "__main__":
    main()
