"""Streaming at scale: plan and write the request files of 100k → 1M articles read from Parquet.

Synthetic articles (1,000 characters on average) are written to a Parquet file block by block;
then, in a fresh process per size, ``plan_stream`` reads them as Arrow record batches, estimates
tokens, cuts jobs by Vertex's limits (``vertex_catalog()``: 200,000 requests and 1 GB per job, here
with 2M-token chunks) and writes every job's Vertex request file. The figures: wall time, time per
article (flat when time grows linearly), and the process's peak resident memory (ru_maxrss: the
interpreter, pandas and pyarrow included).

    python bench/stream_1m.py [N ...]        (default: 100000 300000 1000000)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BLOCK = 50_000
CHILD = """
import json, sys, time
from pathlib import Path
from gembatch.inputs.request_lines import RequestSpec
from gembatch.inputs.stream import iter_article_batches
from gembatch.planning.stream_plan import plan_stream
from gembatch.planning.vertex_limits import vertex_catalog
from gembatch.transport.vertex_lines import vertex_jsonl

path, out = Path(sys.argv[1]), Path(sys.argv[2])
spec = RequestSpec.create("gemini-2.5-flash-lite", "Summarise in one sentence:\\n{text}")
t0, c0 = time.perf_counter(), time.process_time()
plan = plan_stream(iter_article_batches(path, batch_size=50_000), spec, catalog=vertex_catalog(),
                   chunk_tokens=2_000_000, out_dir=out, line_format=vertex_jsonl)
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
hwm = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM:"))
written = sum(p.stat().st_size for p in out.glob("*.jsonl"))
print(json.dumps({"articles": plan.articles, "seconds": elapsed, "cpu": cpu, "jobs": len(plan.chunks),
                  "bytes": written, "tokens": plan.est_input_tokens, "cost": plan.est_cost_usd,
                  "peak_rss_mb": hwm / 1024}))
"""


def write_parquet(path: Path, n: int) -> float:
    """``n`` synthetic articles, written one block at a time (never all in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import gembatch as gb

    t0 = time.perf_counter()
    writer = None
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        frame = gb.synthetic_articles(size, mean_chars=1000, seed=start // BLOCK)
        frame["id"] = [f"a{start + i:07d}" for i in range(size)]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return time.perf_counter() - t0


def main(sizes: list[int]) -> None:
    head = ("articles", "jobs", "wall s", "CPU s", "CPU µs/art", "peak RSS MB", "request bytes", "est. cost")
    print("{:>10} {:>5} {:>7} {:>7} {:>10} {:>11} {:>14} {:>10}".format(*head))
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data, out = Path(tmp) / "articles.parquet", Path(tmp) / "requests"
            gen = write_parquet(data, n)
            cmd = [sys.executable, "-c", CHILD, str(data), str(out)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                sys.exit(f"n={n}: the streaming planner failed:\n{proc.stderr[-2000:]}")
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(r)
            cells = (r["articles"], r["jobs"], r["seconds"], r["cpu"], r["cpu"] / r["articles"] * 1e6,
                     r["peak_rss_mb"], r["bytes"], r["cost"])  # fmt: skip
            print(
                "{:>10,} {:>5} {:>7.1f} {:>7.1f} {:>10.1f} {:>11.0f} {:>14,} ${:>9.2f}".format(*cells), end=""
            )
            print(f"   (Parquet: {data.stat().st_size / 1e6:.0f} MB, written in {gen:.1f}s)", flush=True)
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        ratio = b["articles"] / a["articles"]
        print(
            f"{ratio:.0f}x the articles: CPU time x{b['cpu'] / a['cpu']:.1f}, wall time "
            f"x{b['seconds'] / a['seconds']:.1f} (linear = x{ratio:.0f}); "
            f"peak memory {a['peak_rss_mb']:.0f} MB -> {b['peak_rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1:]] or [100_000, 300_000, 1_000_000])
