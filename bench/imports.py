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


def timed(code: str, pythonpath: str | None, repeat: int) -> float:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        # run outside any checkout: ``-c`` puts the working directory first on sys.path
        subprocess.run(
            [sys.executable, "-c", code], check=True, env=env, capture_output=True, cwd=tempfile.gettempdir()
        )
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--base", help="checkout of the previous implementation to compare with")
    args = ap.parse_args()
    print(f"import times, median of {args.repeat} fresh processes (wall seconds):")
    bare = timed("pass", None, args.repeat)
    for label, code in CASES.items():
        now = timed(code, None, args.repeat)
        line = f"  {label:<24} {now:6.3f} s  ({now - bare:6.3f} s over a bare interpreter)"
        if args.base:
            old = timed(code, args.base, args.repeat)
            line += f"; previous {old:6.3f} s (now {now / old:4.2f}x)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
