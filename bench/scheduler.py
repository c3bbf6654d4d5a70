"""Rolling vs waves: makespan and enqueued-quota utilisation for 12,000 articles on the emulator.

Heavy-tailed job latency (log-normal queueing, sigma 1.2), Tier-1 quota of gemini-2.5-flash-lite,
no faults (so only scheduling differs). Figures are in emulated seconds, read from the emulator's
enqueued-token timeline. Utilisation is the time-averaged enqueued tokens over quota × headroom
(the most the scheduler may use), over the backlog period (first create → last create, while work
waits) and over the whole makespan (which adds the tail after the last submission).

    python bench/scheduler.py [N_ARTICLES] [N_SEEDS]

Waves is only a handful of jobs, so one latency draw decides its makespan: the figures are given
per seed and as the mean over seeds (default 5).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

import gembatch as gb
from gembatch.emulator import running

MODEL = "gemini-2.5-flash-lite"
DT = 30.0  # emulated seconds between polls
PROFILE = {
    "base": "realistic",
    "queue_median_s": 600.0,
    "queue_sigma": 1.2,
    "line_error_rate": 0.0,
    "job_failure_rate": 0.0,
    "expiry_probability": 0.0,
    "http_500_rate": 0.0,
    "http_503_rate": 0.0,
    # no spurious 429s: a back-off waits in wall-clock seconds while this bench drives emulated
    # time by hand, so one would freeze the run for thousands of polls and measure nothing
    "create_429_rate": 0.0,
}


def integrate(timeline: list[list], start: float, end: float) -> float:
    """∫ enqueued tokens dt over [start, end] for a piecewise-constant timeline."""
    total, level, t_prev = 0.0, 0, start
    for when, _model, tokens in timeline:
        t = min(max(when, start), end)
        total += level * (t - t_prev)
        level, t_prev = tokens, t
    return total + level * (end - t_prev)


def one(policy: str, articles, seed: int) -> dict[str, float]:
    plan = gb.plan(articles, MODEL, tier="tier1", prompt="Summarise:\n{text}", policy=policy)
    # a nearly frozen clock advanced by hand: each step is one poll, DT emulated seconds apart, and
    # the time our own HTTP calls take costs no emulated time (it would dwarf everything at high speed)
    with running(speed=1e-6, profile=PROFILE, seed=seed) as emu, tempfile.TemporaryDirectory() as tmp:
        run = gb.Run.create(Path(tmp) / "run", articles, plan, client=emu.client())
        wall = time.perf_counter()
        steps = 0
        while not run.step().done:
            emu.advance(DT)
            steps += 1
            assert steps < 100_000, "run did not finish"
        wall = time.perf_counter() - wall
        stats = emu.stats()
        s = run.summary()
    timeline = [e for e in stats["enqueued_timeline"] if e[1].removeprefix("models/") == MODEL]
    t0 = timeline[0][0]
    ups = [timeline[i][0] for i in range(1, len(timeline)) if timeline[i][2] > timeline[i - 1][2]]
    t_last_create = max([t0, *ups])
    t_end = timeline[-1][0]
    cap = plan.quota_tokens * plan.headroom
    backlog = t_last_create - t0
    return {
        "jobs": len(run.chunks()),
        "makespan_s": t_end - t0,
        "util_backlog": integrate(timeline, t0, t_last_create) / (cap * backlog) if backlog else float("nan"),
        "util_makespan": integrate(timeline, t0, t_end) / (cap * (t_end - t0)),
        "peak_over_cap": max(e[2] for e in timeline) / cap,
        "wall_s": wall,
        "succeeded": s["succeeded"],
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 12_000
    seeds = range(11, 11 + (int(sys.argv[2]) if len(sys.argv) > 2 else 5))
    articles = gb.read_articles(gb.synthetic_articles(n, seed=1), id_col="id")
    print(f"{n:,} articles, {MODEL} Tier 1, poll every {DT:.0f} emulated s, heavy-tailed latency (sigma 1.2)")
    runs: dict[str, list[dict[str, float]]] = {"rolling": [], "waves": []}
    for seed in seeds:
        for p, rs in runs.items():
            r = one(p, articles, seed=seed)
            rs.append(r)
            print(
                f"  seed {seed} {p:8s} jobs {r['jobs']:4d}  makespan {r['makespan_s'] / 3600:6.2f} h  "
                f"utilisation {r['util_backlog']:6.1%} (backlog) {r['util_makespan']:6.1%} (makespan)  "
                f"peak/cap {r['peak_over_cap']:.2f}  wall {r['wall_s']:.1f} s  ok {r['succeeded']:,}"
            )
    mean = {p: {k: sum(r[k] for r in rs) / len(rs) for k in rs[0]} for p, rs in runs.items()}
    for p, m in mean.items():
        print(
            f"  mean {p:8s} makespan {m['makespan_s'] / 3600:6.2f} h  utilisation {m['util_backlog']:6.1%} "
            f"(backlog) {m['util_makespan']:6.1%} (makespan)  peak/cap {m['peak_over_cap']:.2f}"
        )
    ratios = [w["makespan_s"] / r["makespan_s"] for w, r in zip(runs["waves"], runs["rolling"], strict=True)]
    print(
        f"  waves/rolling makespan ratio: mean {sum(ratios) / len(ratios):.2f}×, "
        f"range {min(ratios):.2f}–{max(ratios):.2f}× (target ≥ 1.5×); rolling utilisation target ≥ 90%"
    )


if __name__ == "__main__":
    main()
