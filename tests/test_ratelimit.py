"""The client-side RPM/TPM limiter, the limits from the catalogue, and real-time duration estimates."""

from __future__ import annotations

import asyncio

import pytest

import gembatch as gb
from gembatch.planning.ratelimit import RateLimits, WindowLimiter, realtime_duration
from gembatch.runs.realtime_send import RealtimeOptions


def _run(coro):
    return asyncio.run(asyncio.wait_for(coro, 10))


def test_requests_beyond_the_limit_wait_for_a_slot_to_leave_the_window():
    async def main():
        lim = WindowLimiter(RateLimits(rpm=3, tpm=1000, window_s=0.05), arrival_margin_s=None)
        tickets = [await lim.acquire(10) for _ in range(3)]
        fourth = asyncio.ensure_future(lim.acquire(10))
        await asyncio.sleep(0.1)
        blocked = not fourth.done()  # nothing completed: every slot is still counted
        lim.release(tickets[0])
        await fourth
        return blocked, lim.occupancy()

    blocked, (requests, tokens) = _run(main())
    assert blocked
    assert requests == 3
    assert tokens == 30


def test_actual_tokens_replace_the_reservation():
    async def main():
        lim = WindowLimiter(RateLimits(rpm=100, tpm=100, window_s=30), arrival_margin_s=None)
        first = await lim.acquire(60)
        second = asyncio.ensure_future(lim.acquire(50))
        await asyncio.sleep(0.05)
        blocked = not second.done()
        lim.release(first, tokens=30)  # the service counted fewer tokens than estimated
        await second
        return blocked, lim.occupancy()

    blocked, occupancy = _run(main())
    assert blocked
    assert occupancy == (2, 80)


def test_a_request_in_flight_past_the_arrival_margin_leaves_the_window():
    async def main():
        lim = WindowLimiter(RateLimits(rpm=2, tpm=1000, window_s=0.05), arrival_margin_s=0.01)
        await lim.acquire(1)
        await lim.acquire(1)
        await lim.acquire(1)  # admitted without any release: the service counted the first two
        return lim.stats

    stats = _run(main())
    assert stats.admitted == 3
    assert stats.waits == 1


def test_preloaded_requests_count_until_their_window_passes():
    async def main():
        lim = WindowLimiter(RateLimits(rpm=5, tpm=1000, window_s=60))
        lim.preload(10.0, 100)
        lim.preload(120.0, 100)  # older than the window: ignored
        return lim.occupancy()

    assert _run(main()) == (1, 100)


def test_one_request_larger_than_tpm_is_refused_with_the_fix():
    async def main():
        await WindowLimiter(RateLimits(rpm=5, tpm=100)).acquire(101)

    with pytest.raises(gb.QuotaExceeded, match="raise tpm"):
        _run(main())


def test_limits_come_from_the_catalogue_and_can_be_overridden():
    info = gb.default_catalog().get("gemini-2.5-flash")
    assert RateLimits.for_model(info, "tier1") == RateLimits(1000, 1_000_000)
    assert RateLimits.for_model(info, "tier1", rpm=10).rpm == 10
    opts = RealtimeOptions(tpm=5, headroom=0.5)
    limits = opts.limits(info, "tier2")
    assert (limits.rpm, limits.tpm, limits.requests, limits.tokens) == (2000, 5, 1000, 2)
    entry = {"as_of": "2026", "source": "t", "context_window": 10, "max_output_tokens": 5}
    bare = gb.load_catalog({"m": {**entry, "input_price": 1, "output_price": 1}}).get("m")
    with pytest.raises(gb.CatalogError, match="override"):
        RateLimits.for_model(bare, "tier1")
    with pytest.raises(TypeError, match="rpn"):
        RealtimeOptions.from_dict({"rpn": 3})


def test_realtime_duration_names_the_binding_limit():
    d = realtime_duration(12_000, 30_000_000, rpm=4_000, tpm=4_000_000)
    assert d.bound == "tpm"
    assert d.seconds == pytest.approx(450.0)
    d = realtime_duration(12_000, 3_000_000, rpm=4_000, tpm=4_000_000)
    assert d.bound == "rpm"
    assert d.seconds == pytest.approx(180.0)
    assert d.requests_per_min == pytest.approx(4_000)


def test_estimate_shows_the_realtime_duration_at_the_limits():
    arts = gb.read_articles(gb.synthetic_articles(200, mean_chars=4000, seed=1), id_col="id")
    est = gb.estimate(arts, model="gemini-2.5-flash-lite")
    rpm, tpm = gb.default_catalog().get("gemini-2.5-flash-lite").rate_limits("tier1")
    expected = realtime_duration(200, est.input_tokens_p50, rpm, tpm)
    assert est.realtime_duration_s == pytest.approx(expected.seconds)
    assert est.realtime_bound == expected.bound
    assert "real time takes" in repr(est)
    assert "real time takes" in est._repr_html_()
    slow = gb.load_catalog({"gemini-2.5-flash-lite": {"rpm": {"tier1": 10}}})
    slow_est = gb.estimate(arts, model="gemini-2.5-flash-lite", catalog=slow)
    assert slow_est.realtime_bound == "rpm"
    assert slow_est.realtime_duration_s == pytest.approx(20 * 60)  # 200 requests at 10 per minute
