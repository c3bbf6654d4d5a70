"""Limits of the real service, each raising the SDK exception the real service would cause."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_helpers import MODEL, SLOW, raw, request, wait_done
from google.genai import errors

from gembatch import load_catalog
from gembatch.emulator import Emulator, count_tokens, running


def _detail(exc: errors.APIError, kind: str) -> dict[str, Any]:
    details = exc.details["error"]["details"]
    return next(d for d in details if d["@type"].endswith(kind))


@pytest.fixture
def small_quota() -> Iterator[Emulator]:
    catalog = load_catalog(
        {MODEL: {"enqueued_tokens": {"tier1": 100}, "rpm": {"tier1": 3}, "tpm": {"tier1": 60}}}
    )
    with running(speed=600, catalog=catalog, profile=SLOW) as emu:
        yield emu


def test_enqueued_token_quota_429_then_released_when_done(small_quota: Emulator) -> None:
    emu = small_quota
    client = emu.client()
    text = "word " * 60
    tokens = count_tokens(text)
    assert 50 < tokens <= 100
    first = client.batches.create(model=MODEL, src=[request(text)], config={"display_name": "first"})
    assert emu.stats()["enqueued_tokens"][MODEL] == tokens
    with pytest.raises(errors.ClientError) as info:
        client.batches.create(model=MODEL, src=[request(text)], config={"display_name": "second"})
    exc = info.value
    assert exc.code == 429
    assert exc.status == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded for metric" in (exc.message or "")
    violation = _detail(exc, "QuotaFailure")["violations"][0]
    assert violation["quotaMetric"].endswith("batch_enqueued_tokens")
    assert violation["quotaId"].startswith("BatchEnqueuedTokensPerModelPerProject")
    assert _detail(exc, "RetryInfo")["retryDelay"].endswith("s")
    stats = emu.stats()
    assert stats["responses_429"] == 1
    assert stats["quota"][MODEL] == 100
    assert stats["batches_created_by_display_name"] == {"first": 1}
    assert first.name is not None
    wait_done(client, first.name, emu)
    client.batches.create(model=MODEL, src=[request(text)], config={"display_name": "second"})
    stats = emu.stats()
    assert stats["peak_enqueued_tokens"][MODEL] == tokens
    assert [entry[2] for entry in stats["enqueued_timeline"]] == [tokens, 0, tokens]


def test_rpm_and_tpm_limits_on_generate_content(small_quota: Emulator) -> None:
    client = small_quota.client()
    for _ in range(3):
        client.models.generate_content(model=MODEL, contents="hi")
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == 429
    assert info.value.status == "RESOURCE_EXHAUSTED"
    assert "PerMinute" in _detail(info.value, "QuotaFailure")["violations"][0]["quotaId"]
    assert _detail(info.value, "RetryInfo")["retryDelay"].endswith("s")


def test_tpm_limit(small_quota: Emulator) -> None:
    client = small_quota.client()
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model=MODEL, contents="word " * 80)
    assert info.value.code == 429
    assert "InputTokens" in _detail(info.value, "QuotaFailure")["violations"][0]["quotaId"]


def test_concurrent_job_limit() -> None:
    catalog = load_catalog({MODEL: {"concurrent_batch_jobs": 2}})
    with running(catalog=catalog, profile=SLOW) as emu:
        client = emu.client()
        client.batches.create(model=MODEL, src=[request("a")])
        client.batches.create(model=MODEL, src=[request("b")])
        with pytest.raises(errors.ClientError) as info:
            client.batches.create(model=MODEL, src=[request("c")])
        assert info.value.code == 429
        assert info.value.status == "RESOURCE_EXHAUSTED"


def test_default_limits_follow_the_catalogue() -> None:
    with running() as emu:
        stats = emu.stats()
        assert stats["quota"]["gemini-2.5-flash"] == 3_000_000
        assert stats["quota"]["gemini-2.5-flash-lite"] == 10_000_000


def test_inline_request_over_limit_is_400() -> None:
    catalog = load_catalog({MODEL: {"inline_limit_bytes": 2_000}})
    with running(catalog=catalog) as emu:
        client = emu.client()
        with pytest.raises(errors.ClientError) as info:
            client.batches.create(model=MODEL, src=[request("x" * 3_000)])
        assert info.value.code == 400
        assert info.value.status == "INVALID_ARGUMENT"
        assert "payload size exceeds" in (info.value.message or "")


def test_unknown_model_is_404() -> None:
    with running() as emu:
        client = emu.client()
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model="gemini-0-nope", contents="hi")
        assert info.value.code == 404
        assert info.value.status == "NOT_FOUND"
        with pytest.raises(errors.ClientError) as info:
            client.batches.create(model="gemini-0-nope", src=[request("hi")])
        assert info.value.code == 404


def test_wrong_api_key_is_400_like_the_real_api() -> None:
    with running(api_keys=["good-key"]) as emu:
        emu.client("good-key").models.count_tokens(model=MODEL, contents="hi")
        bad = emu.client("bad-key")
        with pytest.raises(errors.ClientError) as info:
            bad.models.count_tokens(model=MODEL, contents="hi")
        assert info.value.code == 400
        assert info.value.status == "INVALID_ARGUMENT"
        assert info.value.message == "API key not valid. Please pass a valid API key."


def test_malformed_requests_are_400_naming_the_field() -> None:
    with running() as emu:
        client = emu.client()
        with pytest.raises(errors.ClientError) as info:
            client.models.generate_content(model=MODEL, contents="hi", config={"temperature": 5})
        assert info.value.code == 400
        assert "temperature" in (info.value.message or "")
        body = {"batch": {"inputConfig": {"requests": {"requests": [{"request": {"contents": []}}]}}}}
        reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:batchGenerateContent", json=body)
        assert reply.status_code == 400
        assert "requests[0].request.contents" in reply.json()["error"]["message"]
        reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:batchGenerateContent", content=b"{not json")
        assert reply.status_code == 400
        assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
        reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:batchGenerateContent", json={"batch": {}})
        assert "input_config" in json.dumps(reply.json())
        with pytest.raises(errors.ClientError) as info:
            client.batches.create(model=MODEL, src="files/doesnotexist")
        # A missing input file answers as files.get does: 403, whether missing, expired or foreign.
        assert info.value.code == 403
        assert "File doesnotexist or it may not exist" in (info.value.message or "")


def test_expiry_after_48_emulated_hours() -> None:
    profile = {"queue_median_s": 3 * 86_400.0, "queue_sigma": 0.0}  # stuck in PENDING for 3 days
    with running(profile=profile, speed=60) as emu:  # a slow clock: wall-time stalls cannot reach 48 h
        client = emu.client()
        job = client.batches.create(model=MODEL, src=[request("slow")])
        assert job.name is not None
        emu.advance(47 * 3600)
        assert client.batches.get(name=job.name).state.name == "JOB_STATE_PENDING"
        emu.advance(2 * 3600)
        got = client.batches.get(name=job.name)
        assert got.state.name == "JOB_STATE_EXPIRED"
        assert got.done
        assert emu.stats()["enqueued_tokens"][MODEL] == 0
