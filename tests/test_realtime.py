"""Real-time mode on the emulator: RPM/TPM respected, results in the run's ledger, pilot bounds, Jupyter."""

from __future__ import annotations

import asyncio
import collections

import pytest
import realtime_support as rs

import gembatch as gb
from gembatch.cli import main

pytestmark = pytest.mark.slow

N = 1000
SCHEMA = {
    "type": "OBJECT",
    "properties": {"summary": {"type": "STRING"}, "topic": {"type": "STRING"}},
    "required": ["summary", "topic"],
}
# 150 requests and 24k input tokens per 2 s window: ~130 tokens per request, so both limits bind.
RPM, TPM = 150, 24_000
SPEC = {"prompt": "Summarise:\n{text}", "schema": SCHEMA, "thinking_budget": -1}


@pytest.fixture(scope="module")
def cat():
    return rs.catalog(RPM, TPM)


@pytest.fixture(scope="module")
def emu(cat):
    with gb.emulator.running(speed=600, catalog=cat, profile=rs.SHORT_WINDOW) as emu:
        yield emu


@pytest.fixture(scope="module")
def arts():
    return rs.articles(N, mean_chars=450, seed=11)


@pytest.fixture(scope="module")
def full_run(emu, cat, arts, tmp_path_factory):
    """1,000 articles through a realtime run; the emulator's stats before and after."""
    before = emu.stats()
    plan = gb.plan(arts, rs.MODEL, catalog=cat, **SPEC)
    run = gb.Run.create(
        tmp_path_factory.mktemp("rt") / "run", arts, plan, client=emu.client(), mode="realtime",
        realtime=rs.OPTIONS,
    )  # fmt: skip
    assert run.wait(progress=False)
    return run, before, emu.stats()


def test_thousand_articles_complete_under_both_limits(full_run):
    run, before, after = full_run
    res = run.results()
    assert len(res) == N
    assert (res["status"] == "succeeded").all()
    assert res["summary"].notna().all()
    assert res["topic"].notna().all()
    rows = rs.result_rows(run)
    unique = rs.unique_requests(run)  # identical articles are sent once and share the answer
    assert len(rows) == unique, "one results row per request sent: none lost, none twice"
    assert {r["chunk_id"] for r in rows} == {"rt1"}
    # every request the emulator saw came from this run, and each got exactly one answer
    sent = after["requests"]["models.generate_content"] - before["requests"].get("models.generate_content", 0)
    refused = after["responses_429"] - before["responses_429"]
    assert sent == unique + refused
    # The emulator checks every generateContent against its sliding-window RPM and TPM and answers
    # 429 past either: zero 429s means no window ever held more than either limit.
    assert refused == 0
    s = run.summary()
    assert s["state"] == "done"
    assert s["done"]
    kinds = set(run.events()["kind"])
    assert {"realtime_claim", "realtime_start", "realtime_stop", "done"} <= kinds


def test_costs_are_standard_prices_and_thinking_is_billed(full_run, cat):
    run, _, _ = full_run
    res = run.results()
    info = cat.get(rs.MODEL)
    expected = (
        res["prompt_tokens"] * info.input_price
        + (res["output_tokens"] + res["thoughts_tokens"]) * info.output_price
    ) / 1e6
    assert (res["thoughts_tokens"] > 0).sum() == rs.unique_requests(run)  # duplicates show 0: sent once
    assert (res["cost_usd"] - expected).abs().max() < 1e-12
    assert run.summary()["cost_actual_usd"] == pytest.approx(float(expected.sum()))


def test_rerun_sends_nothing_again(full_run, emu, cat, arts):
    run, _, after = full_run
    plan = gb.plan(arts, rs.MODEL, catalog=cat, **SPEC)
    again = gb.Run.create(run.run_dir, arts, plan, client=emu.client(), mode="realtime", realtime=rs.OPTIONS)
    assert again.run_id == run.run_id
    assert again.wait(progress=False)
    assert emu.stats()["requests"]["models.generate_content"] == after["requests"]["models.generate_content"]
    assert len(rs.result_rows(again)) == rs.unique_requests(again)


def test_pilot_projection_holds_the_full_run_within_its_bounds(full_run, emu, cat, arts):
    run, _, _ = full_run
    p = gb.pilot(arts, n=20, model=rs.MODEL, catalog=cat, client=emu.client(), seed=3, **SPEC, **rs.OPTIONS)
    assert p.sampled == 20
    assert p.succeeded == 20
    assert p.parse_rate == 1.0
    assert p.measurements.shape[0] == 20
    s = run.summary()
    actual = {
        "input_tokens": s["input_tokens"],
        "output_tokens": s["output_tokens"],
        "thinking_tokens": s["thoughts_tokens"],
        "realtime_cost_usd": s["cost_actual_usd"],
    }
    for name, value in actual.items():
        low, high = p.summary[f"{name}_low"], p.summary[f"{name}_high"]
        assert low <= value <= high, f"{name}: actual {value} outside the pilot's bounds [{low}, {high}]"
        assert p.summary[f"{name}_p50"] <= p.summary[f"{name}_p90"]
    assert 0.5 < p.token_ratio < 1.5  # actual / estimated input tokens, measured
    assert p.expected_output_tokens > 0
    assert p.expected_thinking_tokens > 0
    assert p.realtime_duration_s > 0
    assert p.realtime_bound in ("rpm", "tpm")
    assert "Pilot" in repr(p)
    assert "gb-repr" in p._repr_html_()
    plan = gb.plan(arts, rs.MODEL, catalog=cat, estimator=p.estimator, **SPEC)
    assert plan.est_cost_usd > 0


def test_works_inside_a_running_event_loop(emu, cat, arts):
    """Jupyter's kernel already runs a loop: the sync API must not call asyncio.run() on it."""

    async def cell():
        return gb.pilot(arts, n=3, model=rs.MODEL, catalog=cat, client=emu.client(), **rs.OPTIONS)

    p = asyncio.run(cell())
    assert p.succeeded == 3


def test_cli_run_mode_realtime(emu, tmp_path, monkeypatch, capsys):
    data = tmp_path / "a.jsonl"
    gb.synthetic_articles(25, mean_chars=300, seed=5).to_json(data, orient="records", lines=True)
    monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
    run_dir = tmp_path / "run"
    args = [
        "run",
        str(data),
        "--run-dir",
        str(run_dir),
        "--id-col",
        "id",
        "--mode",
        "realtime",
        "--rpm",
        "5000",
    ]
    assert main(args) == 0
    run = gb.Run.open(run_dir)
    assert run.config.mode == "realtime"
    assert run.config.realtime == {"rpm": 5000}
    assert (run.results()["status"] == "succeeded").all()
    assert (run_dir / "results.parquet").exists()


def test_retryable_answers_get_new_attempts_each_recorded_once(emu, cat, tmp_path):
    """A 5xx burst is retried inside the request; nothing is recorded twice, every article ends."""
    arts = rs.articles(40, mean_chars=300, seed=2)
    plan = gb.plan(arts, rs.MODEL, catalog=cat, prompt="{text}")
    emu.inject_fault("models.generate_content", status=503, count=15)
    run = gb.Run.create(tmp_path / "run", arts, plan, client=emu.client(), mode="realtime",
                        realtime={**rs.OPTIONS, "backoff_base_s": 0.01, "backoff_max_s": 0.05})  # fmt: skip
    assert run.wait(progress=False)
    assert (run.results()["status"] == "succeeded").all()
    per_article = collections.Counter(r["article_id"] for r in rs.result_rows(run))
    assert set(per_article.values()) == {1}
    assert "15 × 5xx" in " ".join(run.events()["message"].dropna())


def test_a_429_is_waited_out_and_retried(emu, cat, tmp_path):
    arts = rs.articles(10, mean_chars=300, seed=4)
    plan = gb.plan(arts, rs.MODEL, catalog=cat, prompt="{text}")
    emu.inject_fault("models.generate_content", status=429, count=3)
    run = gb.Run.create(tmp_path / "run", arts, plan, client=emu.client(), mode="realtime",
                        realtime={**rs.OPTIONS, "backoff_base_s": 0.01})  # fmt: skip
    assert run.wait(progress=False)
    assert (run.results()["status"] == "succeeded").all()
    assert len(rs.result_rows(run)) == 10
    assert "3 × 429" in " ".join(run.events()["message"].dropna())


def test_pause_holds_sending_until_resume(emu, cat, tmp_path):
    arts = rs.articles(12, mean_chars=300, seed=6)
    plan = gb.plan(arts, rs.MODEL, catalog=cat, prompt="{text}")
    client = emu.client()
    run = gb.Run.create(tmp_path / "run", arts, plan, client=client, mode="realtime", realtime=rs.OPTIONS)
    run.pause()
    assert not run.wait(timeout=0.5, progress=False)
    assert rs.result_rows(run) == []
    run.resume()
    assert run.wait(progress=False)
    assert (run.results()["status"] == "succeeded").all()


def test_bad_mode_or_option_is_refused_before_anything_is_stored(emu, cat, tmp_path):
    arts = rs.articles(3, mean_chars=200)
    plan = gb.plan(arts, rs.MODEL, catalog=cat)
    with pytest.raises(gb.InputError, match="'batch' or 'realtime'"):
        gb.Run.create(tmp_path / "a", arts, plan, client=emu.client(), mode="real-time")
    with pytest.raises(TypeError, match="max_concurrancy"):
        gb.Run.create(tmp_path / "b", arts, plan, client=emu.client(), realtime={"max_concurrancy": 3})
    assert not (tmp_path / "a" / "ledger.sqlite").exists()


def test_timeouts_are_retried_then_recorded_once_per_attempt(cat, tmp_path):
    """Every answer slower than timeout_s: each attempt gives up after its retries, one row each."""
    arts = rs.articles(3, mean_chars=200, seed=1)
    plan = gb.plan(arts, rs.MODEL, catalog=cat)
    opts = {**rs.OPTIONS, "timeout_s": 0.05, "max_retries": 1, "backoff_base_s": 0.01}
    with gb.emulator.running(catalog=cat, profile={**rs.SHORT_WINDOW, "http_latency_ms": 400}) as slow:
        run = gb.Run.create(tmp_path / "run", arts, plan, client=slow.client(), mode="realtime",
                            realtime=opts, max_attempts=2)  # fmt: skip
        assert run.wait(progress=False)
    res = run.results()
    assert (res["status"] == "failed").all()
    assert res["error"].str.contains("gave up after 2 attempts").all()
    assert res["error"].str.contains("TimeoutError").all()
    per_article = collections.Counter(r["article_id"] for r in rs.result_rows(run))
    assert set(per_article.values()) == {2}
    assert {r["cost_usd"] for r in rs.result_rows(run)} == {0.0}


def test_a_daily_quota_stops_sending_and_leaves_articles_pending(emu, cat, tmp_path):
    arts = rs.articles(6, mean_chars=200, seed=3)
    plan = gb.plan(arts, rs.MODEL, catalog=cat)
    daily = "Quota exceeded (per day). Please retry in 40000s."
    emu.inject_fault("models.generate_content", status=429, count=1, message=daily)
    run = gb.Run.create(tmp_path / "run", arts, plan, client=emu.client(), mode="realtime",
                        realtime={**rs.OPTIONS, "max_concurrency": 1})  # fmt: skip
    assert not run.wait(progress=False)
    ev = run.events()
    assert ev["message"].str.contains("quota exhausted: the service asks to retry in 40000s").any()
    assert (run.results()["status"] == "pending").all()
    assert rs.result_rows(run) == []
    assert run.wait(progress=False)  # the next day: the same call finishes the run
    assert (run.results()["status"] == "succeeded").all()
