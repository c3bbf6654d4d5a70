"""CPU the run loop spends on its own work, per phase, for a whole run of 12k / 100k articles.

The emulator runs in its own process (fast clock, calm profile), so every CPU second counted here is
gembatch's: building and sending requests, sweeping, collecting, ledger writes, results export.
Each size runs in a fresh process; with ``--base DIR`` (a checkout of the previous implementation,
e.g. ``git worktree add /tmp/base <commit>``) the same run is made with it and the ratio printed.

    python bench/run_loop.py [--sizes 12000,100000] [--base DIR]

Articles are short (600 characters): the loop's cost grows with articles and steps, not text.
Not part of the test run; the target is under 60 s of CPU for 100k articles.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

MODEL = "gemini-2.5-flash-lite"
#: ~1,000 short articles per job, two jobs in flight: jobs finish one by one over ~100 steps at
#: 100k, so the cost of a collecting step at every size of the ledger shows.
CHUNK_TOKENS = 200_000
QUOTA = 500_000
KNOBS = {"poll_min_s": 0.05, "poll_max_s": 0.5, "backoff_base_s": 0.05, "backoff_max_s": 0.5}
PHASES = ("sweep", "poll", "reconcile", "collect_chunk", "make_retry_chunks", "_schedule",
          "results_frame", "export", "check_done")  # fmt: skip


def _timed(table: dict[str, float], name: str, fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            table[name] += time.process_time() - t

    return wrapper


def child(src: str, url: str) -> None:
    """One whole run against the emulator at ``url``; prints one JSON line of CPU figures."""
    t0 = time.process_time()
    import gembatch as gb
    from gembatch.runs.drivers import batch
    from gembatch.runs.store import RunStore

    cpu: dict[str, float] = defaultdict(float)
    for name in PHASES:
        if hasattr(batch, name):
            setattr(batch, name, _timed(cpu, name, getattr(batch, name)))
    for name in ("event", "calibrate"):
        setattr(RunStore, name, _timed(cpu, f"store.{name}", getattr(RunStore, name)))
    steps: list[tuple[float, int]] = []
    step = batch.BatchDriver.step

    def timed_step(self: Any, ctx: Any) -> Any:
        t = time.process_time()
        report = step(self, ctx)
        steps.append((time.process_time() - t, report.collected))
        return report

    batch.BatchDriver.step = timed_step  # type: ignore[method-assign]
    articles = gb.read_articles(src, id_col="id")
    # a small quota in the plan (not in the emulator): two jobs at a time, so they finish one by one
    catalog = gb.load_catalog({MODEL: {"enqueued_tokens": {"tier1": QUOTA}}})
    plan = gb.plan(articles, MODEL, prompt="Summarise in one sentence:\n{text}", chunk_tokens=CHUNK_TOKENS,
                   catalog=catalog)  # fmt: skip
    tc = time.process_time()
    client = gb.connect(prefer="emulator", base_url=url)  # google-genai loads here (or at import)
    t1 = time.process_time()
    with tempfile.TemporaryDirectory() as tmp:
        run = gb.Run.create(Path(tmp) / "run", articles, plan, client=client, **KNOBS)
        t2 = time.process_time()
        w0 = time.monotonic()
        done = run.wait(timeout=3600, progress=False)
        wall = time.monotonic() - w0
        t3 = time.process_time()
        ok = int((run.results()["status"] == "succeeded").sum())
    collecting = [s for s, c in steps if c]
    print(json.dumps({"module": gb.__file__,
        "done": done, "succeeded": ok, "jobs": len(plan.chunks), "steps": len(steps),
        "collecting_steps": len(collecting), "prepare_cpu": tc - t0,
        "connect_cpu": t1 - tc, "create_cpu": t2 - t1,
        "loop_cpu": t3 - t2, "loop_wall": wall, "phases": cpu,
        "collecting_step_cpu": sum(collecting) / max(1, len(collecting)),
        "other_step_cpu": sum(s for s, c in steps if not c) / max(1, len(steps) - len(collecting)),
    }))  # fmt: skip


def _emulator(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    cmd = [sys.executable, "-m", "gembatch.emulator", "serve", "--state-dir", str(state),
           "--speed", "5000", "--profile", "calm"]  # fmt: skip
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


def measure(src: Path, pythonpath: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as state:
        proc, url = _emulator(Path(state))
        try:
            env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
            if pythonpath:
                env["PYTHONPATH"] = pythonpath
            out = subprocess.run([sys.executable, __file__, "--child", str(src), url],
                                 capture_output=True, text=True, env=env, check=False)  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if out.returncode:
        raise SystemExit(f"child failed for {src.name}:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if pythonpath and not str(figures["module"]).startswith(str(Path(pythonpath).resolve())):
        raise SystemExit(f"--base {pythonpath} was not the gembatch imported: {figures['module']}")
    return figures


def report(n: int, now: dict[str, Any], old: dict[str, Any] | None) -> None:
    def vs(key: str) -> str:
        return f" (previous {old[key]:7.2f} s, now {now[key] / old[key]:4.2f}x)" if old else ""

    print(f"{n:,} articles, {now['jobs']} jobs, {now['steps']} steps ({now['collecting_steps']} collecting), "
          f"{now['succeeded']:,} succeeded, {now['loop_wall']:.0f} s wall")  # fmt: skip
    print(f"  run loop CPU          {now['loop_cpu']:7.2f} s{vs('loop_cpu')}")
    print(f"  per collecting step   {now['collecting_step_cpu']:7.3f} s{vs('collecting_step_cpu')}")
    print(f"  per other step        {now['other_step_cpu']:7.3f} s{vs('other_step_cpu')}")
    print(f"  import + read + plan  {now['prepare_cpu']:7.2f} s{vs('prepare_cpu')}")
    print(f"  connect               {now['connect_cpu']:7.2f} s{vs('connect_cpu')}")
    print(f"  Run.create            {now['create_cpu']:7.2f} s{vs('create_cpu')}")
    names = sorted(set(now["phases"]) | set(old["phases"] if old else ()))
    for name in names:
        mine, theirs = now["phases"].get(name, 0.0), (old or {}).get("phases", {}).get(name)
        extra = f" (previous {theirs:7.2f} s)" if theirs is not None else ""
        print(f"    {name:<18} {mine:7.2f} s{extra}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child", nargs=2)
    ap.add_argument("--sizes", default="12000,100000")
    ap.add_argument(
        "--base",
        default=os.environ.get("GEMBATCH_BENCH_BASE") or None,
        help="checkout of the previous implementation to compare with ($GEMBATCH_BENCH_BASE)",
    )
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "gembatch-bench-data"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    print("CPU seconds of the run loop (emulator in its own process; phases nest: collect includes events)")
    for n in (int(s) for s in args.sizes.split(",")):
        src = data / f"short-{n}.jsonl"
        if not src.exists():
            import gembatch as gb

            gb.synthetic_articles(n, mean_chars=600, seed=1).to_json(src, orient="records", lines=True)
        now = measure(src, None)
        old = measure(src, args.base) if args.base else None
        report(n, now, old)


if __name__ == "__main__":
    main()
