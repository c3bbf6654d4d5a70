"""Import time of ``import gembatch`` and ``gembatch --help`` (median of fresh processes), vs a baseline.

Each figure is the median wall time of several fresh interpreters, against the bare interpreter
start (a plain baseline) and, with ``--base DIR`` (a checkout of the previous implementation, e.g.
``git worktree add /tmp/base <commit>``), against that implementation.

    python bench/imports.py [--repeat 7] [--base DIR]

Not part of the test run; the target is ``import gembatch`` ≤ 0.4 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

CASES = {
    "python -c pass": "pass",
    "import gembatch": "import gembatch",
    "gembatch --help": (
        "import contextlib, io\nfrom gembatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['--help'])\n    except SystemExit:\n        pass"
    ),
    "gembatch models --help": (
        "import contextlib, io\nfrom gembatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n        main(['models', '--help'])\n    except SystemExit:\n        pass"
    ),
    "import gembatch; gb.Run": "import gembatch as gb\ngb.Run",
}


def timed(code: str, pythonpath: str | None, repeat: int) -> tuple[float, float]:
    """Median (CPU seconds, wall seconds) of ``repeat`` fresh interpreters running ``code``."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cpu, wall = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        # run outside any checkout: ``-c`` puts the working directory first on sys.path
        subprocess.run(
            [sys.executable, "-c", code], check=True, env=env, capture_output=True, cwd=tempfile.gettempdir()
        )
        wall.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(cpu), statistics.median(wall)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--base",
        default=os.environ.get("GEMBATCH_BENCH_BASE") or None,
        help="checkout of the previous implementation to compare with ($GEMBATCH_BENCH_BASE)",
    )
    args = ap.parse_args()
    print(f"import cost, median of {args.repeat} fresh processes: CPU seconds (wall seconds; a busy")
    print("machine inflates wall time, CPU much less):")
    bare, _ = timed("pass", None, args.repeat)
    for label, code in CASES.items():
        cpu, wall = timed(code, None, args.repeat)
        line = f"  {label:<24} {cpu:6.3f} s ({wall:6.3f} s wall; {cpu - bare:6.3f} s over a bare interpreter)"
        if args.base:
            old_cpu, old_wall = timed(code, args.base, args.repeat)
            line += f"; previous {old_cpu:6.3f} s ({old_wall:6.3f} s wall), now {cpu / old_cpu:4.2f}x"
        print(line, flush=True)

if __name__ == "__main__":
    main()
