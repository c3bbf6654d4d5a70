"""Limits learned from the service's 429s, limits set by the user, and monthly spend caps in plans."""

from __future__ import annotations

import json
import warnings

import pytest
from google.genai import errors
from runs_support import FAST, articles, make_plan, small_catalog

import gembatch as gb
from gembatch.emulator import count_tokens, running
from gembatch.planning import learned_limits as ll

MODEL = "gemini-2.5-flash"


@pytest.fixture
def limits_file(tmp_path, monkeypatch):
    path = tmp_path / "limits.json"
    monkeypatch.setenv(ll.LIMITS_FILE_VAR, str(path))
    return path


def _request(text: str) -> dict:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def _quota_429(emu, model: str = MODEL) -> errors.ClientError:
    """A real 429 from the emulator, through the google-genai SDK: the second job passes the quota."""
    client = emu.client()
    text = "word " * 60
    client.batches.create(model=model, src=[_request(text)], config={"display_name": "first"})
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model=model, src=[_request(text)], config={"display_name": "second"})
    assert info.value.code == 429
    return info.value


def test_quota_violations_parse_the_429_details():
    with running(speed=600, catalog=gb.load_catalog({MODEL: {"enqueued_tokens": {"tier1": 100}}})) as emu:
        exc = _quota_429(emu)
    (v,) = ll.quota_violations(exc)
    assert (v.limit, v.tier, v.model, v.value) == ("enqueued_tokens", "tier1", MODEL, 100)
    assert count_tokens("word " * 60) <= 100


def test_violation_without_a_quota_value_and_daily_quotas():
    body = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
         "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"},
    ]}]}}  # fmt: skip
    (v,) = ll.quota_violations(body)
    assert v.value is None
    assert v.tier == "free"
    assert v.limit == "generate_content_free_tier_requests"  # per day: never taken for RPM
    assert ll.quota_violations({"error": {"code": 500}}) == []


def test_a_limit_learned_from_an_emulated_429_is_used_by_the_next_plan(limits_file):
    small = gb.load_catalog({MODEL: {"enqueued_tokens": {"tier1": 100}}})
    with running(speed=600, catalog=small) as emu:
        client = emu.client()
        exc = _quota_429(emu)
        learned = ll.learn_from_error(exc, client=client, model=MODEL, tier="tier1")
        assert [v.value for v in learned] == [100]
        stored = json.loads(limits_file.read_text())
        project = ll.project_of(client)
        assert project is not None
        assert project.id == "emulator"
        rec = stored["projects"]["emulator"]["models"][MODEL]["service"]["enqueued_tokens"]
        assert (rec["value"], rec["tier"]) == (100, "tier1")
        assert "BatchEnqueuedTokensPerModelPerProject-Tier1" in rec["source"]
        arts = ["a short article", "another short one"]
        plan = gb.plan(arts, MODEL, project=client)  # the default catalogue says 3,000,000
    assert plan.quota_tokens == 100
    assert any("learned from the service" in n and "catalogue 3,000,000" in n for n in plan.notes)
    assert gb.plan(arts, MODEL, project=None).quota_tokens == 3_000_000
    assert gb.plan(arts, MODEL, tier="tier2", project="emulator").quota_tokens == 400_000_000
    frame = gb.models(project="emulator")
    assert frame.loc[MODEL, "enqueued_tokens"] == 100
    assert frame.loc[MODEL, "learned"] == "enqueued_tokens"


def test_a_key_is_never_stored_only_its_fingerprint(limits_file):
    from google import genai

    secret = "AIza-test-secret-never-written"
    client = genai.Client(api_key=secret)
    violation = {
        "quotaMetric": "generativelanguage.googleapis.com/batch_enqueued_tokens",
        "quotaId": "BatchEnqueuedTokensPerModelPerProject-Tier1",
        "quotaDimensions": {"model": "gemini-3.5-flash"},
        "quotaValue": "2000000",
    }
    body = {"error": {"code": 429, "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure",
                                                "violations": [violation]}]}}  # fmt: skip
    assert ll.learn_from_error(body, client=client)
    text = limits_file.read_text()
    assert secret not in text
    project = ll.project_of(client)
    assert project is not None
    assert project.id.startswith("key-")
    assert project.id in text
    assert gb.plan(["a b c"], "gemini-3.5-flash", project=client).quota_tokens == 2_000_000


def test_user_set_limits_win_over_learned_ones(limits_file):
    body = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaMetric": "generativelanguage.googleapis.com/batch_enqueued_tokens",
         "quotaId": "BatchEnqueuedTokensPerModelPerProject-Tier1",
         "quotaDimensions": {"model": MODEL}, "quotaValue": "1000000"}]}]}}  # fmt: skip
    ll.learn_from_error(body, client=None)  # "auto": no key in the tests, so the emulator project
    assert gb.plan(["x"], MODEL).quota_tokens == 1_000_000
    gb.set_limits(MODEL, tier="tier1", enqueued_tokens=2_500_000)
    p = gb.plan(["x"], MODEL)
    assert p.quota_tokens == 2_500_000
    assert any("set by you" in n for n in p.notes)
    gb.set_limits(MODEL, tier="tier1", enqueued_tokens=None)
    assert gb.plan(["x"], MODEL).quota_tokens == 1_000_000
    with pytest.raises(gb.InputError, match="unknown limit"):
        gb.set_limits(MODEL, colour=3)


def test_learning_is_off_when_the_file_is_off(monkeypatch, tmp_path):
    monkeypatch.setenv(ll.LIMITS_FILE_VAR, "off")
    assert ll.limits_path() is None
    body = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
        {"quotaMetric": "x/batch_enqueued_tokens", "quotaId": "B-Tier1", "quotaValue": "5"}]}]}}  # fmt: skip
    ll.learn_from_error(body, model=MODEL)
    assert ll.known_limits().empty
    assert gb.plan(["x"], MODEL).quota_tokens == 3_000_000


def test_the_run_engine_learns_from_the_429s_of_its_creates(tmp_path, limits_file):
    """Through the real submit path: the emulator's project has a smaller quota than the plan says."""
    arts = articles(300)
    plan = make_plan(arts, small_catalog(), chunk_tokens=15_000)  # plans with a 200,000 quota
    slow = {"queue_median_s": 36_000.0, "queue_sigma": 0.0}  # the first job stays enqueued
    with running(speed=600, catalog=small_catalog(20_000), profile=slow) as emu:
        run = gb.Run.create(tmp_path / "run", arts, plan, client=emu.client(), **FAST)
        run.step()  # submits the first job; the second passes the project's real quota: 429
        client = emu.client()
    assert (run.events()["kind"] == "create_refused").any()
    again = make_plan(arts, small_catalog(), chunk_tokens=10_000, project=client)
    assert again.quota_tokens == 20_000


# -- spend caps ---------------------------------------------------------------------------------
def test_a_plan_past_the_monthly_spend_cap_warns_before_submitting(limits_file):
    arts = gb.read_articles(gb.synthetic_articles(12_000))
    with pytest.warns(gb.SpendCapWarning, match=r"tier1 monthly spend cap of ~\$250") as caught:
        p = gb.plan(arts, "gemini-3.1-pro-preview", expected_thinking_tokens=4_000, billing_date="2026-12-01")
    assert p.est_cost_usd > 250
    assert "429 RESOURCE_EXHAUSTED" in str(caught[0].message)
    assert "reported, unconfirmed" in str(caught[0].message)
    assert any("spend cap" in w for w in p.warnings)
    assert "WARNING" in repr(p)
    assert "spend cap" in p._repr_html_()
    with warnings.catch_warnings():
        warnings.simplefilter("error", gb.SpendCapWarning)
        tier2 = gb.plan(arts, "gemini-3.1-pro-preview", tier="tier2", expected_thinking_tokens=4_000,
                        billing_date="2026-12-01")  # fmt: skip
    assert tier2.warnings == ()


def test_spend_cap_set_by_the_user_replaces_the_reported_one(limits_file):
    arts = gb.read_articles(gb.synthetic_articles(500))
    with warnings.catch_warnings():
        warnings.simplefilter("error", gb.SpendCapWarning)
        gb.plan(arts, "gemini-2.5-flash", billing_date="2026-12-01")
    gb.set_limits(spend_cap_usd_month=0.05)
    with pytest.warns(gb.SpendCapWarning, match="set by you"):
        gb.plan(arts, "gemini-2.5-flash", billing_date="2026-12-01")
    cat = gb.load_catalog({"tiers": {"tier1": {"spend_cap_usd_month": 1_000_000}}})
    assert cat.tier("tier1").spend_cap_usd_month == 1_000_000
    assert gb.default_catalog().tier("tier3").spend_cap_usd_month == 20_000
    assert not gb.default_catalog().tier("tier1").spend_cap_confirmed


def test_limits_the_developer_api_taught_do_not_shape_a_vertex_plan(limits_file):
    from gembatch.planning.vertex_limits import vertex_catalog, vertex_limits

    small = gb.load_catalog({MODEL: {"enqueued_tokens": {"tier1": 100}}})
    with running(speed=600, catalog=small) as emu:
        ll.learn_from_error(_quota_429(emu), client=emu.client(), model=MODEL, tier="tier1")
    arts = ["a short article", "another short one"]
    assert gb.plan(arts, MODEL).quota_tokens == 100  # the Developer API's "auto" project learned it
    vertex = vertex_catalog()
    assert vertex.with_overrides({}).service == "vertex"
    assert gb.plan(arts, MODEL, catalog=vertex).quota_tokens == int(vertex_limits()["enqueued_tokens"])
