"""Batch mode through the real google-genai SDK: create, get, list, cancel, delete, output."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator

import pytest
from emulator_helpers import MODEL, SLOW, jsonl, raw, request, wait_done
from google.genai import errors

from gembatch.emulator import Emulator, running
from gembatch.transport.connect import get_batch_raw, iter_batches_raw


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with running(speed=600, profile=SLOW) as emulator:
        yield emulator


def test_file_batch_output_in_input_order_with_keys(emu: Emulator) -> None:
    client = emu.client()
    f = client.files.upload(file=io.BytesIO(jsonl(25)), config={"mime_type": "application/jsonl"})
    assert f.name is not None
    job = client.batches.create(model=MODEL, src=f.name, config={"display_name": "file-job"})
    assert job.name is not None
    assert job.name.startswith("batches/")
    assert job.state is not None
    assert job.state.name in ("JOB_STATE_PENDING", "JOB_STATE_RUNNING")
    assert job.display_name == "file-job"
    done = wait_done(client, job.name, emu)
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    assert done.end_time is not None
    assert done.dest is not None
    assert done.dest.file_name == f"files/batch-{job.name.removeprefix('batches/')}"
    meta = client.files.get(name=done.dest.file_name)
    assert meta.source is not None
    assert meta.source.name == "GENERATED"
    assert meta.download_uri
    lines = [json.loads(line) for line in client.files.download(file=done.dest.file_name).splitlines()]
    assert [line["key"] for line in lines] == [f"k{i}" for i in range(25)]
    assert all("response" in line for line in lines)
    assert lines[3]["response"]["candidates"][0]["content"]["parts"][0]["text"].startswith("Item 3.")


def test_raw_batch_has_operation_shape_and_stats(emu: Emulator) -> None:
    client = emu.client()
    job = client.batches.create(model=MODEL, src=[request("one."), request("two.")])
    assert job.name is not None
    first = get_batch_raw(client, job.name)
    assert first["metadata"]["batchStats"]["requestCount"] == "2"
    assert first["metadata"]["state"].startswith("BATCH_STATE_")
    assert "done" not in first
    wait_done(client, job.name, emu)
    body = get_batch_raw(client, job.name)
    assert body["done"] is True
    assert body["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert body["metadata"]["batchStats"] == {"requestCount": "2", "successfulRequestCount": "2"}
    assert body["response"]["@type"].endswith("GenerateContentBatchOutput")
    assert len(body["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]) == 2


def test_inline_batch_with_metadata_keys(emu: Emulator) -> None:
    client = emu.client()
    src = [
        {
            "contents": [{"parts": [{"text": f"Sentence {i}. More."}], "role": "user"}],
            "metadata": {"key": f"r{i}"},
        }
        for i in range(3)
    ]
    job = client.batches.create(model=MODEL, src=src, config={"display_name": "inline"})
    assert job.name is not None
    done = wait_done(client, job.name, emu)
    assert done.dest is not None
    items = done.dest.inlined_responses
    assert items is not None
    assert [item.metadata for item in items] == [{"key": "r0"}, {"key": "r1"}, {"key": "r2"}]
    assert items[1].response is not None
    assert (items[1].response.text or "").startswith("Sentence 1.")


def test_async_inline_batch(emu: Emulator) -> None:
    client = emu.client()

    async def go() -> str:
        aio = client.aio
        job = await aio.batches.create(model=MODEL, src=[request("Async works.")])
        assert job.name is not None
        for _ in range(500):
            job = await aio.batches.get(name=job.name)
            if job.done:
                break
            emu.advance(600)
            await asyncio.sleep(0.02)
        assert job.dest is not None
        assert job.dest.inlined_responses is not None
        response = job.dest.inlined_responses[0].response
        assert response is not None
        return response.text or ""

    assert asyncio.run(go()).startswith("Async works.")


def test_list_over_several_pages_never_empty_page_with_token(emu: Emulator) -> None:
    client = emu.client()
    names = [client.batches.create(model=MODEL, src=[request(f"n{i}")]).name for i in range(7)]
    listed = [b.name for b in client.batches.list(config={"page_size": 3})]
    assert listed == names[::-1]  # newest first
    pages = []
    token = ""
    while True:
        body = raw(emu, "GET", f"/v1beta/batches?pageSize=3&pageToken={token}").json()
        pages.append(len(body["operations"]))
        token = body.get("nextPageToken", "")
        if not token:
            break
    assert pages == [3, 3, 1]
    assert len(list(iter_batches_raw(client, page_size=2))) == 7
    six = [raw(emu, "GET", "/v1beta/batches?pageSize=6").json()]
    assert "nextPageToken" in six[0]
    last = raw(emu, "GET", f"/v1beta/batches?pageSize=6&pageToken={six[0]['nextPageToken']}").json()
    assert len(last["operations"]) == 1
    assert "nextPageToken" not in last


def test_cancel_pending_and_cancel_after_the_end_is_a_no_op(emu: Emulator) -> None:
    client = emu.client()
    job = client.batches.create(model=MODEL, src=[request("to cancel")])
    assert job.name is not None
    assert client.batches.cancel(name=job.name) is None
    got = client.batches.get(name=job.name)
    assert got.state is not None
    assert got.state.name == "JOB_STATE_CANCELLED"
    assert got.done
    assert emu.stats()["enqueued_tokens"][MODEL] == 0
    assert client.batches.cancel(name=job.name) is None
    finished = client.batches.create(model=MODEL, src=[request("done first")])
    assert finished.name is not None
    wait_done(client, finished.name, emu)
    client.batches.cancel(name=finished.name)  # like the real service: "completed despite cancellation"
    assert client.batches.get(name=finished.name).state.name == "JOB_STATE_SUCCEEDED"
    with pytest.raises(errors.ClientError) as info:
        client.batches.cancel(name="batches/doesnotexist")
    assert info.value.code == 404


def test_cancel_a_running_job() -> None:
    profile = {"queue_median_s": 60.0, "queue_sigma": 0.0, "overhead_s": 36_000.0, "proc_sigma": 0.0}
    with running(speed=600, profile=profile) as emu:
        client = emu.client()
        job = client.batches.create(model=MODEL, src=[request("long job")])
        assert job.name is not None
        emu.advance(3600)
        assert client.batches.get(name=job.name).state.name == "JOB_STATE_RUNNING"
        client.batches.cancel(name=job.name)
        got = client.batches.get(name=job.name)
        assert got.state.name == "JOB_STATE_CANCELLED"
        assert got.dest is None


def test_delete_by_http_delete_and_by_colon_delete(emu: Emulator) -> None:
    client = emu.client()
    a = client.batches.create(model=MODEL, src=[request("a")])
    b = client.batches.create(model=MODEL, src=[request("b")])
    assert a.name is not None
    assert b.name is not None
    client.batches.delete(name=a.name)
    assert raw(emu, "POST", f"/v1beta/{b.name}:delete").status_code == 200
    for name in (a.name, b.name):
        with pytest.raises(errors.ClientError) as info:
            client.batches.get(name=name)
        assert info.value.code == 404
        assert info.value.status == "NOT_FOUND"


def test_any_version_prefix_and_snake_case_bodies(emu: Emulator) -> None:
    body = {
        "batch": {
            "display_name": "snake",
            "input_config": {
                "requests": {
                    "requests": [
                        {
                            "request": {
                                "contents": [{"parts": [{"text": "hello there."}]}],
                                "generation_config": {
                                    "max_output_tokens": 50,
                                    "thinking_config": {"thinking_budget": 0},
                                },
                            },
                            "metadata": {"key": "s1"},
                        }
                    ]
                }
            },
        }
    }
    for version in ("v1", "v1alpha", "v1beta"):
        reply = raw(emu, "POST", f"/{version}/models/{MODEL}:batchGenerateContent", json=body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["metadata"]["displayName"] == "snake"
