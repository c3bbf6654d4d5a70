"""Fault profiles and one-shot faults: each surfaces as the SDK exception the real service causes."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from emulator_helpers import MODEL, SLOW, jsonl, request, wait_done
from google.genai import errors

from gembatch.emulator import PROFILES, load_profile, running
from gembatch.errors import InputError


def test_one_shot_status_faults_on_create() -> None:
    with running() as emu:
        client = emu.client()
        emu.inject_fault("batches.create", status=429, count=2)
        for _ in range(2):
            with pytest.raises(errors.ClientError) as info:
                client.batches.create(model=MODEL, src=[request("x")])
            assert info.value.code == 429
            assert info.value.status == "RESOURCE_EXHAUSTED"
        emu.inject_fault("batches.create", status=503)
        with pytest.raises(errors.ServerError) as server:
            client.batches.create(model=MODEL, src=[request("x")])
        assert server.value.code == 503
        assert server.value.status == "UNAVAILABLE"
        client.batches.create(model=MODEL, src=[request("x")])  # faults are used up
        assert emu.stats()["pending_faults"] == []


def test_drop_response_creates_the_job_but_the_client_gets_an_error() -> None:
    with running() as emu:
        client = emu.client()
        reply = httpx.post(
            f"{emu.base_url}/emulator/v1/faults", json={"op": "batches.create", "drop_response": True}
        )
        assert reply.status_code == 200
        with pytest.raises(errors.ServerError) as info:
            client.batches.create(model=MODEL, src=[request("x")], config={"display_name": "gembatch/r/c1/1"})
        assert info.value.code == 500
        stats = httpx.get(f"{emu.base_url}/emulator/v1/stats").json()
        assert stats["batches_created_by_display_name"] == {"gembatch/r/c1/1": 1}
        assert [b.display_name for b in client.batches.list()] == ["gembatch/r/c1/1"]


def test_drop_response_as_disconnect() -> None:
    with running() as emu:
        client = emu.client()
        emu.inject_fault("batches.create", drop_response="disconnect")
        with pytest.raises(Exception) as info:  # noqa: PT011 - the transport error type is httpx2's
            client.batches.create(model=MODEL, src=[request("x")], config={"display_name": "lost"})
        assert not isinstance(info.value, errors.APIError)
        assert emu.stats()["batches_created_by_display_name"] == {"lost": 1}


@pytest.mark.parametrize("outcome", ["FAILED", "EXPIRED"])
def test_forced_batch_outcome(outcome: str) -> None:
    with running() as emu:
        client = emu.client()
        emu.inject_fault("batch", display_name="doomed", outcome=outcome)
        job = client.batches.create(model=MODEL, src=[request("x")], config={"display_name": "doomed"})
        other = client.batches.create(model=MODEL, src=[request("y")], config={"display_name": "fine"})
        assert job.name is not None
        assert other.name is not None
        assert wait_done(client, job.name, emu).state.name == f"JOB_STATE_{outcome}"
        assert wait_done(client, other.name, emu).state.name == "JOB_STATE_SUCCEEDED"
        raw = client._api_client.request("get", job.name, {}).body
        assert json.loads(raw)["error"]["message"]


def test_forced_outcome_applies_to_a_live_job() -> None:
    with running(profile=SLOW) as emu:
        client = emu.client()
        job = client.batches.create(model=MODEL, src=[request("x")], config={"display_name": "live"})
        assert job.name is not None
        result = emu.inject_fault("batch", display_name="live", outcome="FAILED")
        assert result["applied_to_existing"] == 1
        assert wait_done(client, job.name, emu).state.name == "JOB_STATE_FAILED"


def test_per_line_errors_mix_retryable_and_permanent() -> None:
    profile = {"line_error_rate": 0.5, "line_error_mix": {"429": 1, "500": 1, "503": 1, "400": 1}}
    with running(profile=profile, seed=7) as emu:
        client = emu.client()
        f = client.files.upload(file=io.BytesIO(jsonl(200)), config={"mime_type": "application/jsonl"})
        job = client.batches.create(model=MODEL, src=f.name or "")
        assert job.name is not None
        done = wait_done(client, job.name, emu)
        assert done.state.name == "JOB_STATE_SUCCEEDED"
        lines = [json.loads(x) for x in client.files.download(file=done.dest.file_name).splitlines()]
        assert [x["key"] for x in lines] == [f"k{i}" for i in range(200)]
        codes = {x["error"]["code"] for x in lines if "error" in x}
        assert codes == {400, 429, 500, 503}
        failed = sum("error" in x for x in lines)
        assert 60 < failed < 140
        stats = client._api_client.request("get", job.name, {}).body
        counts = json.loads(stats)["metadata"]["batchStats"]
        assert counts["failedRequestCount"] == str(failed)
        assert counts["successfulRequestCount"] == str(200 - failed)


def test_invalid_lines_become_400_lines() -> None:
    with running() as emu:
        client = emu.client()
        data = jsonl(2) + b"not json\n" + b'{"key": "nr"}\n'
        f = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/jsonl"})
        job = client.batches.create(model=MODEL, src=f.name or "")
        done = wait_done(client, job.name or "", emu)
        lines = [json.loads(x) for x in client.files.download(file=done.dest.file_name).splitlines()]
        assert ["response" in x for x in lines] == [True, True, False, False]
        assert lines[3] == {"key": "nr", "error": lines[3]["error"]}
        assert lines[3]["error"]["code"] == 400


def test_job_failure_rate_and_http_error_rates() -> None:
    with running(profile={"job_failure_rate": 1.0}) as emu:
        client = emu.client()
        job = client.batches.create(model=MODEL, src=[request("x")])
        assert wait_done(client, job.name or "", emu).state.name == "JOB_STATE_FAILED"
    with running(profile={"http_503_rate": 1.0}) as emu:
        with pytest.raises(errors.ServerError) as info:
            emu.client().models.generate_content(model=MODEL, contents="hi")
        assert info.value.code == 503
    with running(profile={"create_429_rate": 1.0}) as emu:
        with pytest.raises(errors.ClientError) as info:
            emu.client().batches.create(model=MODEL, src=[request("x")])
        assert info.value.code == 429
        assert emu.stats()["enqueued_tokens"] == {}
    with running(profile={"http_500_rate": 1.0}) as emu:
        with pytest.raises(errors.ServerError) as info:
            emu.client().batches.list()
        assert info.value.code == 500
        assert info.value.status == "INTERNAL"


def test_profiles_named_and_from_file(tmp_path) -> None:
    assert set(PROFILES) == {"calm", "realistic", "chaos"}
    assert PROFILES["calm"].line_error_rate == 0
    assert PROFILES["chaos"].job_failure_rate > PROFILES["realistic"].job_failure_rate > 0
    path = tmp_path / "mine.toml"
    path.write_text('base = "realistic"\nline_error_rate = 0.25\nhttp_latency_ms = 0\n')
    profile = load_profile(path)
    assert profile.name == "mine"
    assert profile.line_error_rate == 0.25
    assert profile.queue_median_s == PROFILES["realistic"].queue_median_s
    (tmp_path / "p.json").write_text(json.dumps({"job_failure_rate": 0.5}))
    assert load_profile(tmp_path / "p.json").job_failure_rate == 0.5
    with pytest.raises(InputError, match="probability"):
        load_profile({"line_error_rate": 3})
    with pytest.raises(InputError, match="unknown"):
        load_profile({"nonsense": 1})
    with pytest.raises(InputError, match="calm"):
        load_profile("no-such-profile")


def test_admin_fault_endpoint_validates_and_clears() -> None:
    with running() as emu:
        base = f"{emu.base_url}/emulator/v1/faults"
        assert httpx.post(base, json={"op": "batches.create"}).status_code == 400
        assert httpx.post(base, json={"op": "batch", "outcome": "FAILED"}).status_code == 400
        assert httpx.post(base, json=[{"op": "files.get", "status": 404}]).status_code == 200
        assert httpx.get(base).json()["faults"] == [{"op": "files.get", "status": 404, "count": 1}]
        assert httpx.delete(base).json() == {"faults": []}
