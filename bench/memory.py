"""Peak memory of prepare (read, validate, estimate, plan) + ``Run.create`` at 12k / 100k / 300k articles.

Each size runs in a fresh subprocess and reports its own peak RSS (``ru_maxrss``), so one size's
memory never counts towards another's. Figures are printed as ratios against the JSONL input size
(a plain baseline: holding the input once) and, with ``--base DIR`` (a checkout of the previous
implementation, e.g. ``git worktree add /tmp/base <commit>``), against that implementation.

    python bench/memory.py [--sizes 12000,100000,300000] [--base DIR] [--data DIR]

Inputs are 9k-character synthetic articles (``gembatch datasets synth``), made once under --data.
Not part of the test run; the target is ≤ 1.2 GB at 100k.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = "gemini-2.5-flash-lite"


def child(src: str) -> None:
    """Prepare + Run.create in this process; print one JSON line of figures."""
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    clock = time.process_time  # CPU seconds: a busy machine does not move them much
    t0 = clock()
    import gembatch as gb

    after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t1 = clock()
    articles = gb.read_articles(src, model=MODEL)
    t2 = clock()
    plan = gb.plan(articles, MODEL, policy="waves")
    t3 = clock()
    with tempfile.TemporaryDirectory() as tmp:
        # Run.create sends nothing: a client for an address where nothing listens will do, and no
        # emulator's memory counts here
        client = gb.connect(prefer="emulator", base_url="http://127.0.0.1:9")  # google-genai loads here
        gb.Run.create(Path(tmp) / "run", articles, plan, client=client)
        t4 = clock()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"module": gb.__file__,
        "peak_mb": peak, "import_mb": after_import, "import_s": t1 - t0, "read_s": t2 - t1,
        "plan_s": t3 - t2, "create_s": t4 - t3, "cpu_s": time.process_time(),
    }))  # fmt: skip


def _cpu(f: dict[str, float]) -> float:
    return f["import_s"] + f["read_s"] + f["plan_s"] + f["create_s"]


def measure(src: Path, pythonpath: str | None) -> dict[str, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(src)], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode:
        raise SystemExit(f"child failed for {src.name}:\n{out.stderr[-2000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    if pythonpath and not str(figures["module"]).startswith(str(Path(pythonpath).resolve())):
        raise SystemExit(f"--base {pythonpath} was not the gembatch imported: {figures['module']}")
    return figures


def ensure(data: Path, n: int) -> Path:
    path = data / f"synth-{n}.jsonl"
    if not path.exists():
        subprocess.run(
            [sys.executable, "-m", "gembatch", "datasets", "synth", str(n), "-o", str(path)],
            check=True, capture_output=True,
        )  # fmt: skip
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--child")
    ap.add_argument("--sizes", default="12000,100000,300000")
    ap.add_argument(
        "--base",
        default=os.environ.get("GEMBATCH_BENCH_BASE") or None,
        help="checkout of the previous implementation to compare with ($GEMBATCH_BENCH_BASE)",
    )
    ap.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "gembatch-bench-data"))
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    print("prepare + Run.create, peak RSS per size (fresh process each):")
    for n in (int(s) for s in args.sizes.split(",")):
        src = ensure(data, n)
        size_mb = src.stat().st_size / 2**20
        now = measure(src, None)
        line = (
            f"  {n:>7,} articles ({size_mb:6.0f} MB JSONL): peak {now['peak_mb']:6.0f} MB "
            f"= {now['peak_mb'] / size_mb:4.2f}x the input; CPU: import {now['import_s']:4.1f} s, "
            f"read {now['read_s']:5.1f} s, plan {now['plan_s']:5.1f} s, create {now['create_s']:5.1f} s"
        )
        if args.base:
            old = measure(src, args.base)
            line += (
                f"; previous {old['peak_mb']:6.0f} MB (now {now['peak_mb'] / old['peak_mb']:4.2f}x), "
                f"CPU {_cpu(old):5.1f} s -> {_cpu(now):5.1f} s"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
