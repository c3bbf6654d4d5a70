"""``make demo-vertex``: the 12k rehearsal on Vertex AI batch prediction, all local.

Starts the emulator's Vertex surface and a fake-gcs-server in this process, plans with Vertex's
limits, runs every article through Cloud Storage input objects and prediction files, and prints
where the results are. ``python -m gembatch.emulator._vertex_demo RUN_DIR [N]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    import gembatch as gb
    from gembatch.planning.vertex_limits import vertex_catalog

    run_dir = Path(argv[0] if argv else "runs/demo-vertex")
    n = int(argv[1]) if len(argv) > 1 else 12_000
    vertex = gb.connect(
        backend="vertex-emulator", speed=10_000, state_dir=run_dir.parent / "vertex-emulator"
    )
    print(vertex.describe())
    articles = gb.read_articles(gb.synthetic_articles(n, seed=12), id_col="id")
    plan = gb.plan(articles, "gemini-2.5-flash-lite", prompt="Summarise in one sentence:\n{text}",
                   catalog=vertex_catalog(), chunk_tokens=2_000_000)  # fmt: skip
    print(plan)
    started = time.monotonic()
    run = gb.Run.create(run_dir, articles, plan, client=vertex, poll_min_s=0.1, poll_max_s=1.0)
    done = run.wait(timeout=1800, progress=False)
    results = run.results()
    counts = results["status"].astype(str).value_counts().to_dict()
    print(f"{len(results):,} articles accounted for in {time.monotonic() - started:.1f}s: {counts}")
    print(f"cost ${results['cost_usd'].fillna(0).sum():.2f} (emulated); run directory {run_dir}")
    left = list(vertex.storage.list_blobs(vertex.bucket, prefix=f"{vertex.prefix}/{run.run_id}/"))
    print(f"Cloud Storage objects left under the run's prefix: {len(left)}")
    return 0 if done and len(results) == n else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
