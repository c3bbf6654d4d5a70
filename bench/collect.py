"""Collection speed: 12,000 result lines → ledger → results DataFrame → results.parquet.

One file batch of 12,000 short articles runs on the in-process emulator; then the collection of
that job (download, stream-parse, match by key, one ledger transaction) and the DataFrame and
parquet export are timed, and their peak Python memory is measured (tracemalloc, second pass).

    python bench/collect.py [N_ARTICLES]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

import gembatch as gb
from gembatch.emulator import running
from gembatch.runs.collect import collect_chunk
from gembatch.runs.poll import poll, sweep
from gembatch.runs.response_lines import iter_jsonl, parse_lines
from gembatch.runs.results import export

MODEL = "gemini-2.5-flash-lite"


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000
    arts = gb.read_articles(gb.synthetic_articles(n, mean_chars=600, seed=2), id_col="id")
    plan = gb.plan(arts, MODEL, prompt="Summarise:\n{text}", chunk_tokens=8_000_000)
    assert len(plan.chunks) == 1, "expected one job"
    with running(speed=5_000) as emu, tempfile.TemporaryDirectory() as tmp:
        run = gb.Run.create(
            Path(tmp) / "run", arts, plan, client=emu.client(), inline_limit_bytes=0, backoff_base_s=0.1
        )
        ctx = run._ctx
        cid = str(run.chunks().index[0])
        while run.chunks().loc[cid, "state"] in ("planned", "submitting"):
            run.step()  # submits the one file job (a spurious 429 just means another try)
            time.sleep(0.05)
        while run.chunks().loc[cid, "state"] == "submitted":
            poll(ctx, sweep(ctx))
            time.sleep(0.05)
        assert run.chunks().loc[cid, "state"] == "succeeded", run.chunks().loc[cid, ["state", "error"]]
        name = str(run.chunks().loc[cid, "output_file"])
        data = bytes(emu.client().files.download(file=name))  # kept for the memory pass

        t0 = time.perf_counter()
        counts = collect_chunk(ctx, cid)
        t1 = time.perf_counter()
        frame = run.results()
        t2 = time.perf_counter()
        export(frame, Path(tmp) / "results.parquet")
        t3 = time.perf_counter()

        tracemalloc.start()
        parsed = list(parse_lines(iter_jsonl(data), None))
        frame = run.results()
        export(frame, Path(tmp) / "again.parquet")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(
        f"{len(parsed):,} result lines ({len(data) / 1e6:.1f} MB JSONL) for {n:,} articles "
        f"({n - len(parsed)} identical requests were sent once); {counts['succeeded']:,} succeeded, "
        f"results frame {len(frame):,} rows"
    )
    print(f"  collect (download + parse + match + ledger): {t1 - t0:6.3f} s")
    print(f"  results DataFrame:                          {t2 - t1:6.3f} s")
    print(f"  results.parquet:                            {t3 - t2:6.3f} s")
    print(f"  total:                                      {t3 - t0:6.3f} s (target < 2 s)")
    print(f"  peak Python memory (parse + frame + parquet): {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
