"""A streamed run end to end: 100k and 300k articles from Parquet through ``gb.Run`` and the emulator.

For each size, in a fresh process (the emulator in a process of its own, calm profile, tier 3,
its clock 500 times faster: output files live 48 emulated hours, about 6 real minutes, longer than
one step that submits every job of a 300k run on a loaded machine): ``gb.plan_stream`` over the
Parquet file, ``gb.Run.create`` from it (ledger and input snapshot written batch by batch), the
run driven until every job is created (submit), then until every article is collected (collect),
then ``run.iter_results()`` page by page and ``run.export_results()``. Each phase prints its wall
time and the process's peak resident memory *during that phase* (``VmHWM`` reset through
``/proc/self/clear_refs`` at its start, so it includes what earlier phases left resident; the
interpreter, pandas and pyarrow included). The point: peak memory stays flat as the number of
articles grows, because no phase holds every article, request or result at once.

    python bench/stream_run.py [N ...]        (default: 100000 300000)

Figures on a shared, loaded 2-core machine (synthetic texts of ~300 characters, 2M-token jobs):

    100,000 articles, 6 jobs                 300,000 articles, 16 jobs
       plan              4.9 s   248 MB         plan              9.7 s   273 MB
       create            9.9 s   309 MB         create           16.7 s   321 MB
       submit           45.1 s   289 MB         submit           93.1 s   285 MB
       collect          16.3 s   409 MB         collect          37.1 s   421 MB
       iter_results      2.2 s   418 MB         iter_results      5.1 s   424 MB
       export            2.8 s   434 MB         export            5.5 s   437 MB
    3x the articles: peak memory 434 MB -> 437 MB
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = "gemini-2.5-flash-lite"
BLOCK = 50_000
PHASES = ("plan", "create", "submit", "collect", "iter_results", "export")
KNOBS = {"poll_min_s": 0.05, "poll_max_s": 0.5, "backoff_base_s": 0.05, "backoff_max_s": 1.0,
         "reconcile_grace_s": 0.0}  # fmt: skip


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:")) / 1024


def _reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as fh:  # "5": reset the peak resident set size
        fh.write("5")


def child(src: str, url: str, work: str) -> None:
    """One streamed run; prints one JSON line: per phase, wall seconds and peak RSS."""
    import gembatch as gb

    figures: dict[str, dict[str, float]] = {}
    t = [0.0]

    def start() -> None:
        _reset_hwm()
        t[0] = time.perf_counter()

    def done(name: str) -> None:
        figures[name] = {"seconds": time.perf_counter() - t[0], "peak_rss_mb": _hwm_mb()}

    source = gb.ArticleStream(Path(src), batch_size=BLOCK)
    spec = gb.RequestSpec.create(MODEL, "Summarise in one sentence:\n{text}")
    start()
    plan = gb.plan_stream(source, spec, tier="tier3")
    done("plan")
    client = gb.connect(prefer="emulator", base_url=url)
    start()
    run = gb.Run.create(Path(work) / "run", source, plan, client=client, **KNOBS)
    done("create")
    start()
    while run.store.chunks_in("planned"):
        run.step()
        time.sleep(0.05)
    done("submit")
    start()
    finished = run.wait(timeout=3600, progress=False)
    done("collect")
    start()
    ok = rows = 0
    for page in run.iter_results(page_size=50_000):
        rows += len(page)
        ok += int((page["status"] == "succeeded").sum())
    done("iter_results")
    start()
    run.export_results(Path(work) / "results.parquet")
    done("export")
    print(json.dumps({"articles": plan.articles, "jobs": len(plan.chunks), "done": finished, "rows": rows,
                      "succeeded": ok, "phases": figures}))  # fmt: skip


def write_parquet(path: Path, n: int) -> None:
    """``n`` short synthetic articles, written one block at a time (never all in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import gembatch as gb

    writer = None
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        frame = gb.synthetic_articles(size, mean_chars=300, seed=start // BLOCK)
        frame["id"] = [f"a{start + i:07d}" for i in range(size)]
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def _emulator(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    cmd = [sys.executable, "-m", "gembatch.emulator", "serve", "--state-dir", str(state),
           "--speed", "500", "--profile", "calm", "--tier", "tier3"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = state / "server.json"
        if info.exists():
            try:
                return proc, str(json.loads(info.read_text())["base_url"])
            except (ValueError, KeyError):
                pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the emulator did not start")


def measure(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "articles.parquet"
        write_parquet(data, n)
        state, work = Path(tmp) / "emulator", Path(tmp) / "work"
        state.mkdir()
        work.mkdir()
        proc, url = _emulator(state)
        try:
            env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
            out = subprocess.run([sys.executable, __file__, "--child", str(data), url, str(work)],
                                 capture_output=True, text=True, env=env, check=False)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if out.returncode:
        raise SystemExit(f"n={n}: the streamed run failed:\n{out.stderr[-3000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main(sizes: list[int]) -> None:
    results = []
    for n in sizes:
        r = measure(n)
        results.append(r)
        print(f"{r['articles']:,} articles, {r['jobs']} jobs, {r['succeeded']:,} succeeded, "
              f"{r['rows']:,} rows paged")  # fmt: skip
        for name in PHASES:
            f = r["phases"][name]  # type: ignore[index]
            print(f"   {name:<13} {f['seconds']:>7.1f} s   peak RSS {f['peak_rss_mb']:>6.0f} MB", flush=True)
    if len(results) > 1:
        a, b = results[0], results[-1]
        top = [max(f["peak_rss_mb"] for f in r["phases"].values()) for r in (a, b)]  # type: ignore[union-attr]
        ratio = b["articles"] / a["articles"]  # type: ignore[operator]
        print(f"{ratio:.0f}x the articles: peak memory {top[0]:.0f} MB -> {top[1]:.0f} MB")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main([int(x) for x in sys.argv[1:]] or [100_000, 300_000])
