"""Scheduler policies compared: makespan, utilisation and cost for 12,000 articles, Tier-1 flash-lite.

The latency model is the emulator's (log-normal queue, median 10 min, sigma 1.2; processing
120 s + tokens / 20k per s, sigma 0.6), with no faults, so only scheduling differs.

1. **Simulation** over N seeds (default 200): gembatch's own planner makes the chunks and its
   scheduler (``runs.scheduler.choose``) and hedging rule decide every step
   (``runs.simulate``); job times are the emulator's seeded draws.
2. **Emulator**: a few full runs (default 2 seeds per policy) through the SDK against the emulator on
   a manual clock advanced one poll interval per step, next to the simulation of the same seed.

Makespan is first job created → last job ended (emulated time); utilisation is the time-averaged
enqueued tokens over quota × headroom across the whole makespan; cost is what was billed (a hedged
job is cancelled while pending and bills nothing). ``rolling`` is the previous default (small jobs,
no hedging), ``rolling+hedge`` the same jobs hedged, ``tail`` the new default.

    python bench/scheduler.py [N_SEEDS] [EMULATOR_SEEDS]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")

import gembatch as gb
from gembatch.emulator import running
from gembatch.planning.latency import HEDGE_QUANTILE, LatencyModel
from gembatch.runs.simulate import simulate_plan

MODEL = "gemini-2.5-flash-lite"
N_ARTICLES = 12_000
DT = 30.0  # emulated seconds between polls
LATENCY = LatencyModel(queue_median_s=600.0, queue_sigma=1.2, overhead_s=120.0, tokens_per_s=20_000.0,
                       proc_sigma=0.6, source="emulator 'realistic' profile, sigma 1.2")  # fmt: skip
PROFILE = {
    "base": "realistic",
    "queue_median_s": LATENCY.queue_median_s,
    "queue_sigma": LATENCY.queue_sigma,
    "overhead_s": LATENCY.overhead_s,
    "tokens_per_s": LATENCY.tokens_per_s,
    "proc_sigma": LATENCY.proc_sigma,
    "line_error_rate": 0.0,
    "job_failure_rate": 0.0,
    "expiry_probability": 0.0,
    "http_500_rate": 0.0,
    "http_503_rate": 0.0,
    "create_429_rate": 0.0,
}
# (label, plan policy, hedge quantile or None)
POLICIES = [("waves", "waves", None), ("rolling", "rolling", None),
            ("rolling+hedge", "rolling", HEDGE_QUANTILE), ("tail", "tail", HEDGE_QUANTILE)]  # fmt: skip
NO_WAIT = {"backoff_base_s": 0.0, "backoff_max_s": 0.0, "reconcile_grace_s": 0.0}


def integrate(timeline: list[list[Any]], start: float, end: float) -> float:
    """∫ enqueued tokens dt over [start, end] for a piecewise-constant timeline."""
    total, level, t_prev = 0.0, 0, start
    for when, _model, tokens in timeline:
        t = min(max(when, start), end)
        total += level * (t - t_prev)
        level, t_prev = tokens, t
    return total + level * (end - t_prev)


def emulator_run(articles: Any, plan: gb.Plan, hedge: float | None, seed: int) -> dict[str, float]:
    with running(speed=0, profile=PROFILE, seed=seed) as emu, tempfile.TemporaryDirectory() as tmp:
        run = gb.Run.create(Path(tmp) / "run", articles, plan, client=emu.client(), hedge_quantile=hedge,
                            **NO_WAIT)  # fmt: skip
        wall = time.perf_counter()
        steps = 0
        while not run.step().done:
            emu.advance(DT)
            steps += 1
            assert steps < 100_000, "run did not finish"
        wall = time.perf_counter() - wall
        stats = emu.stats()
        s = run.summary()
        jobs = len(run.chunks())
        hedges = sum(1 for k in run.events()["kind"] if k == "hedge_cancel")
    line = [e for e in stats["enqueued_timeline"] if e[1].removeprefix("models/") == MODEL]
    t0, t_end = line[0][0], line[-1][0]
    return {
        "makespan_s": t_end - t0,
        "utilisation": integrate(line, t0, t_end) / (plan.cap_tokens * (t_end - t0)),
        "cost_usd": float(s.cost_actual_usd),
        "jobs": jobs,
        "hedges": hedges,
        "wall_s": wall,
        "succeeded": s.succeeded,
    }


def table(rows: dict[str, list[dict[str, float]]]) -> list[str]:
    waves = rows["waves"]
    w_mean = statistics.mean(r["makespan_s"] for r in waves)
    w_p90 = p90([r["makespan_s"] for r in waves])
    out = ["| policy | jobs | hedges | mean h | median h | p90 h | mean vs waves | p90 vs waves | "
           "utilisation | cost |", "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for label, rs in rows.items():
        ms = [r["makespan_s"] for r in rs]
        mean, med, q90 = statistics.mean(ms), statistics.median(ms), p90(ms)
        out.append(
            f"| {label} | {statistics.mean(r['jobs'] for r in rs):.0f} | "
            f"{statistics.mean(r['hedges'] for r in rs):.1f} | {mean / 3600:.2f} | {med / 3600:.2f} | "
            f"{q90 / 3600:.2f} | {mean / w_mean:.2f}× | {q90 / w_p90:.2f}× | "
            f"{statistics.mean(r['utilisation'] for r in rs):.0%} | "
            f"${statistics.mean(r['cost_usd'] for r in rs):.2f} |"
        )
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def main() -> None:
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    emu_seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    articles = gb.read_articles(gb.synthetic_articles(N_ARTICLES, seed=1), id_col="id")
    plans = {label: gb.plan(articles, MODEL, tier="tier1", prompt="Summarise:\n{text}", policy=policy)  # type: ignore[arg-type]
             for label, policy, _ in POLICIES}  # fmt: skip
    print(f"{N_ARTICLES:,} articles, {MODEL} Tier 1, poll every {DT:.0f} s; latency: {LATENCY.describe()}")
    print(f"tail plan: {plans['tail'].policy_reason}\n")

    started = time.perf_counter()
    sim: dict[str, list[dict[str, float]]] = {}
    for label, _, hedge in POLICIES:
        sim[label] = [
            vars(simulate_plan(plans[label], model=LATENCY, seed=seed, hedge_quantile=hedge, poll_s=DT))
            for seed in range(1, n_seeds + 1)
        ]
    print(f"Simulation, {n_seeds} seeds ({time.perf_counter() - started:.1f} s):")
    print("\n".join(table(sim)))

    if emu_seeds <= 0:
        return
    print(f"\nEmulator, {emu_seeds} seed(s) per policy, next to the simulation of the same seed:")
    emu: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in POLICIES}
    for seed in range(1, emu_seeds + 1):
        for label, _, hedge in POLICIES:
            r = emulator_run(articles, plans[label], hedge, seed)
            emu[label].append(r)
            s = sim[label][seed - 1]
            print(
                f"  seed {seed} {label:14s} emulator {r['makespan_s'] / 3600:5.2f} h, {r['jobs']:3.0f} jobs, "
                f"{r['hedges']:2.0f} hedges, util {r['utilisation']:4.0%}, ${r['cost_usd']:.2f}, "
                f"ok {r['succeeded']:,} ({r['wall_s']:.0f} s wall) | "
                f"simulation {s['makespan_s'] / 3600:5.2f} h, "
                f"{s['jobs']:3.0f} jobs, {s['hedges']:2.0f} hedges, util {s['utilisation']:4.0%}",
                flush=True,
            )
    print("\n".join(table(emu)))


if __name__ == "__main__":
    main()
