"""The official google-genai SDK (vertexai=True) drives the emulator's batchPredictionJobs surface."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from google import genai
from google.genai import errors, types

from gembatch.emulator._vertex_backend import BUCKET, LOCATION, PROJECT, token_credentials

MODEL = "gemini-2.5-flash-lite"


@pytest.fixture(scope="module")
def client(vertex):
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=token_credentials(),
        http_options=types.HttpOptions(base_url=vertex.base_url),
    )


def _put_input(storage, name: str, texts: list[str]) -> str:
    lines = [
        {"request": {"contents": [{"role": "user", "parts": [{"text": t}]}], "labels": {"row": str(i)}}}
        for i, t in enumerate(texts)
    ]
    blob = storage.bucket(BUCKET).blob(name)
    blob.upload_from_string("\n".join(json.dumps(x) for x in lines) + "\n")
    return f"gs://{BUCKET}/{name}"


def _wait(client, name: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.batches.get(name=name)
        if job.done:
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} did not finish")


def test_create_get_list_predictions_delete(client, storage):
    src = _put_input(storage, "sdk/in.jsonl", ["Summarise: trams in Northbrook", "Name three rivers"])
    job = client.batches.create(
        model=MODEL, src=src, config={"dest": f"gs://{BUCKET}/sdk/out", "display_name": "sdk-1"}
    )
    assert job.name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/batchPredictionJobs/")
    job_id = job.name.rsplit("/", 1)[-1]
    assert job_id.isdigit()
    assert job.state.value.startswith("JOB_STATE_")  # the clock is fast: it may be done already

    done = _wait(client, job_id)  # a bare numeric id is accepted, as on Vertex
    assert done.state.value == "JOB_STATE_SUCCEEDED"
    assert done.completion_stats.successful_count == 2
    out_dir = done.output_info.gcs_output_directory
    assert out_dir.startswith(f"gs://{BUCKET}/sdk/out/prediction-model-")
    path = out_dir.removeprefix(f"gs://{BUCKET}/") + "/predictions.jsonl"
    lines = [json.loads(x) for x in storage.bucket(BUCKET).blob(path).download_as_bytes().splitlines()]
    assert sorted(line["request"]["labels"]["row"] for line in lines) == ["0", "1"]
    for line in lines:
        assert line["status"] == ""
        assert line["processed_time"]
        response = types.GenerateContentResponse.model_validate(line["response"])
        assert response.text
        assert response.usage_metadata.prompt_token_count > 0

    names = [j.name for j in client.batches.list(config={"page_size": 1})]
    assert job.name in names

    with pytest.raises(errors.ClientError) as cancel:
        client.batches.cancel(name=job.name)  # already final
    assert cancel.value.code == 400

    client.batches.delete(name=job.name)
    with pytest.raises(errors.ClientError) as gone:
        client.batches.get(name=job.name)
    assert gone.value.code == 404


def test_cancel_a_queued_job(storage, gcs_url, tmp_path):
    import gembatch as gb

    slow = gb.connect(backend="vertex-emulator", storage_url=gcs_url, speed=1, state_dir=tmp_path)
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=token_credentials(),
        http_options=types.HttpOptions(base_url=slow.base_url),
    )  # real-time clock: the job queues for about a minute
    src = _put_input(storage, "sdk/cancel.jsonl", ["x " * 2000] * 50)
    job = client.batches.create(model=MODEL, src=src, config={"dest": f"gs://{BUCKET}/sdk/cancel-out"})
    assert job.state.value == "JOB_STATE_PENDING"
    client.batches.cancel(name=job.name)
    assert _wait(client, job.name).state.value == "JOB_STATE_CANCELLED"
    client.batches.delete(name=job.name)


def test_missing_input_object_is_refused_naming_it(client):
    with pytest.raises(errors.ClientError) as exc:
        client.batches.create(
            model=MODEL, src=f"gs://{BUCKET}/nope/missing.jsonl", config={"dest": f"gs://{BUCKET}/x"}
        )
    assert exc.value.code == 400
    assert "missing.jsonl" in str(exc.value)


def test_unauthenticated_calls_are_refused(vertex):
    url = f"{vertex.base_url}/v1beta1/projects/{PROJECT}/locations/{LOCATION}/batchPredictionJobs"
    reply = httpx.get(url)
    assert reply.status_code == 401
    assert reply.json()["error"]["status"] == "UNAUTHENTICATED"


def test_realtime_generate_through_vertex_paths(client):
    response = client.models.generate_content(model=MODEL, contents="Say hello")
    assert response.text
