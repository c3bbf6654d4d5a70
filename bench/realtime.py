"""Real-time throughput against the emulator's RPM/TPM limits: achieved rate vs the limit, and 429s.

    .venv/bin/python bench/realtime.py                     # RPM-bound, 10 s windows
    .venv/bin/python bench/realtime.py --window 60 --rpm 300 --articles 1200
    .venv/bin/python bench/realtime.py --tpm 60000         # TPM-bound

The emulator's rate window is wall time (60 s, like the service); ``--window`` shortens it (both in
the in-process emulator and in the limiter) so a run spans several windows in under a minute.
The first window is a burst the limit allows; the figure that decides a long run's duration is
the sustained rate after it, printed as a percentage of the limit (target >= 95% when RPM-bound).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

import gembatch as gb
from gembatch.inputs.request_lines import RequestSpec
from gembatch.inputs.tokens import TokenEstimator, request_chars
from gembatch.planning.ratelimit import RateLimits
from gembatch.runs.realtime_send import Answer, Job, RealtimeOptions, send

MODEL = "gemini-2.5-flash-lite"


def _fastest_last_send(tokens: list[int], limits: RateLimits) -> float:
    """When the last request could go at the earliest: whole windows packed to both limits."""
    windows, count, used = 1, 0, 0
    for t in tokens:
        if count + 1 > limits.requests or used + t > limits.tokens:
            windows, count, used = windows + 1, 0, 0
        count, used = count + 1, used + t
    return (windows - 1) * limits.window_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=2400)
    ap.add_argument("--rpm", type=int, default=600, help="requests per window")
    ap.add_argument("--tpm", type=int, default=10_000_000, help="input tokens per window")
    ap.add_argument("--window", type=float, default=10.0, help="rate window in seconds (service: 60)")
    ap.add_argument("--chars", type=int, default=2000, help="mean article length")
    ap.add_argument("--concurrency", type=int, default=None)
    ap.add_argument("--margin", type=float, default=2.0, help="arrival margin, s (<0: until completion)")
    args = ap.parse_args()

    cat = gb.load_catalog({MODEL: {"rpm": {"tier1": args.rpm}, "tpm": {"tier1": args.tpm}}})
    arts = gb.read_articles(gb.synthetic_articles(args.articles, mean_chars=args.chars, seed=3), id_col="id")
    spec = RequestSpec(MODEL, "Summarise in one sentence:\n{text}")
    est = TokenEstimator().tokens(request_chars(arts, spec))
    jobs = [
        Job(str(aid), spec.build_request({"text": text}), int(t))
        for aid, text, t in zip(arts.index, arts["text"], est, strict=True)
    ]
    options = RealtimeOptions(
        window_s=args.window,
        max_concurrency=args.concurrency,
        arrival_margin_s=None if args.margin < 0 else args.margin,
    )
    outcomes: list[Answer] = []
    with gb.emulator.running(speed=600, catalog=cat, profile={"rate_window_s": args.window}) as emu:
        limits = options.limits(cat.get(MODEL), "tier1")
        t0 = time.monotonic()
        report = send(emu.client(), spec, jobs, limits, outcomes.append, options=options)
        wall = time.monotonic() - t0
        stats = emu.stats()
    sustained, peak = report.sustained()
    ok = sum(o.result.status == "succeeded" for o in outcomes)
    prompt = sum(o.result.prompt_tokens for o in outcomes)
    bound = "RPM" if args.articles / args.rpm >= prompt / args.tpm else "TPM"
    per_window = prompt / max(1, len(outcomes)) * limits.requests
    print(f"articles {args.articles:,}, {ok:,} succeeded, wall {wall:.1f}s, window {args.window:g}s")
    print(f"{bound}-bound")
    print(f"limits: {limits.requests:,} requests and {limits.tokens:,} input tokens per window")
    print(f"sustained rate after the first window: {sustained * 100:.1f}% of the RPM limit")
    if bound == "TPM":
        tokens_rate = sustained * per_window / limits.tokens
        print(f"sustained input-token rate: ~{tokens_rate * 100:.1f}% of the TPM limit (last window partial)")
    fastest = _fastest_last_send([o.result.prompt_tokens for o in outcomes], limits)
    last = max(report.send_times) - min(report.send_times)
    print(
        f"last request sent after {last:.1f}s; the fastest schedule the limits allow: {fastest:.0f}s "
        f"(efficiency {fastest / last * 100 if last else 100:.1f}%)"
    )
    print(f"peak requests in any window: {peak:,} (limit {limits.requests:,})")
    print(f"requests sent {report.sent:,}; 429s received {report.responses_429}")
    print(f"emulator: {stats['responses_429']} responses 429")
    lat = sorted(report.latencies)
    if lat:
        print(f"latency p50 {lat[len(lat) // 2] * 1000:.0f} ms, p90 {lat[int(len(lat) * 0.9)] * 1000:.0f} ms")
    print(f"limiter: waited {report.waited_s:.1f}s in total; concurrency {options.concurrency(limits)}")


if __name__ == "__main__":
    main()
