"""Every route answers as the service does (never a 500), and embeddings work through the SDK."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator

import pytest
from emulator_helpers import MODEL, raw, wait_done
from google.genai import errors, types

from gembatch.emulator import Emulator, running

EMBED = "gemini-embedding-001"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running() as emulator:
        yield emulator


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


def test_embed_content_gives_deterministic_vectors_that_follow_word_overlap(emu: Emulator) -> None:
    client = emu.client()
    texts = ["The cat sat on the mat.", "A cat sat on a mat!", "Quarterly revenue rose by four percent."]
    full = client.models.embed_content(model=EMBED, contents=texts)
    assert full.embeddings is not None
    vectors = [e.values or [] for e in full.embeddings]
    assert [len(v) for v in vectors] == [3072, 3072, 3072]
    assert _cosine(vectors[0], vectors[1]) > 0.5 > _cosine(vectors[0], vectors[2])
    again = client.models.embed_content(model=EMBED, contents=texts[:1])
    assert again.embeddings is not None
    assert again.embeddings[0].values == vectors[0]
    small = client.models.embed_content(
        model=EMBED, contents=texts[0], config=types.EmbedContentConfig(output_dimensionality=64)
    )
    assert small.embeddings is not None
    assert len(small.embeddings[0].values or []) == 64


def test_single_embed_content_route(emu: Emulator) -> None:
    body = {
        "content": {"parts": [{"text": "hello"}]},
        "taskType": "RETRIEVAL_QUERY",
        "outputDimensionality": 16,
    }
    reply = raw(emu, "POST", f"/v1beta/models/{EMBED}:embedContent", json=body)
    assert reply.status_code == 200
    assert len(reply.json()["embedding"]["values"]) == 16


def test_embedding_on_a_generation_model_is_the_services_404(emu: Emulator) -> None:
    with pytest.raises(errors.ClientError) as info:
        emu.client().models.embed_content(model=MODEL, contents="hello")
    assert info.value.code == 404
    assert info.value.status == "NOT_FOUND"
    assert info.value.message == (
        f"models/{MODEL} is not found for API version v1beta, or is not supported for batchEmbedContents. "
        "Call ListModels to see the list of available models and their supported methods."
    )
    with pytest.raises(errors.ClientError) as info:
        emu.client().models.generate_content(model=EMBED, contents="hello")
    assert info.value.code == 404
    assert "is not supported for generateContent" in (info.value.message or "")


def test_other_model_methods_answer_the_service_404_never_500(emu: Emulator) -> None:
    for method in ("predict", "predictLongRunning", "generateAnswer", "batchEmbedContents"):
        reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:{method}", json={})
        assert reply.status_code == 404, method
        assert reply.json()["error"]["message"].startswith(
            f"models/{MODEL} is not found for API version v1beta, or is not supported for {method}."
        )
    # A method name the service does not have is no route at all: its front end's HTML 404.
    unknown = raw(emu, "POST", f"/v1beta/models/{MODEL}:frobnicate", json={})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert f"/v1beta/models/{MODEL}:frobnicate</code> was not found on this server" in unknown.text
    with pytest.raises(errors.ClientError) as info:
        emu.client()._api_client.request("post", f"models/{MODEL}:frobnicate", {})
    assert info.value.code == 404


def test_model_404_names_the_api_version_of_the_request(emu: Emulator) -> None:
    from google import genai

    # emu.client() pins v1beta; the SDK's own default is v1.
    client = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=emu.base_url, api_version="v1")
    )
    with pytest.raises(errors.ClientError) as info:
        client.models.generate_content(model="gemini-0-nope", contents="hi")
    assert info.value.code == 404
    assert (
        "models/gemini-0-nope is not found for API version v1, or is not supported for generateContent"
        in (info.value.message or "")
    )


def test_routes_of_unmodelled_collections(emu: Emulator) -> None:
    assert raw(emu, "GET", "/v1beta/cachedContents").json() == {}
    assert raw(emu, "GET", "/v1beta/tunedModels").json() == {}
    cached = raw(emu, "GET", "/v1beta/cachedContents/abc")
    assert cached.status_code == 403
    assert cached.json()["error"]["message"] == "CachedContent not found (or permission denied)"
    create = raw(emu, "POST", "/v1beta/cachedContents", json={"model": f"models/{MODEL}"})
    assert create.status_code == 501
    assert create.json()["error"]["status"] == "UNIMPLEMENTED"
    odd = [
        ("GET", "/v1beta/nothing/here"),
        ("PUT", "/v1beta/files"),
        ("POST", "/v1beta/batches/x:explode"),
        ("DELETE", f"/v1beta/models/{MODEL}"),
        ("GET", "/v3/models"),
    ]
    for method, path in odd:
        assert raw(emu, method, path).status_code in (403, 404, 501), (method, path)


@pytest.mark.filterwarnings("ignore:batches.create_embeddings\\(\\) is experimental")
def test_embedding_batches_through_the_batch_api(emu: Emulator) -> None:
    client = emu.client()
    src = {"inlined_requests": {"contents": ["one", "two", "three"], "config": {"output_dimensionality": 8}}}
    job = client.batches.create_embeddings(model=EMBED, src=src)  # type: ignore[arg-type]
    assert job.name is not None
    done = wait_done(client, job.name, emu)
    assert done.state is not None
    assert done.state.name == "JOB_STATE_SUCCEEDED"
    assert done.dest is not None
    answers = done.dest.inlined_embed_content_responses or []
    assert [len(a.response.embedding.values) for a in answers] == [8, 8, 8]  # type: ignore[union-attr]
    lines = [
        {"key": "a", "request": {"content": {"parts": [{"text": "apples"}]}}},
        {"key": "b", "request": {"content": {"parts": []}}},
    ]
    data = ("\n".join(json.dumps(x) for x in lines) + "\n").encode()
    up = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/jsonl"})
    job = client.batches.create_embeddings(model=EMBED, src={"file_name": up.name})  # type: ignore[arg-type]
    assert job.name is not None
    done = wait_done(client, job.name, emu)
    assert done.dest is not None
    assert done.dest.file_name is not None
    out = {r["key"]: r for r in map(json.loads, client.files.download(file=done.dest.file_name).splitlines())}
    assert len(out["a"]["response"]["embedding"]["values"]) == 3072
    assert out["b"]["error"]["code"] == 400


def test_the_emulator_serves_whatever_the_catalogue_holds() -> None:
    from gembatch import load_catalog

    entry = {
        "as_of": "2026-10-01",
        "source": "test",
        "context_window": 500_000,
        "max_output_tokens": 32_768,
        "input_price": 1.5,
        "output_price": 9.0,
        "enqueued_tokens": {"tier1": 3_000_000},
    }
    with running(catalog=load_catalog({"gemini-3.5-flash": entry})) as emu:
        client = emu.client()
        assert "models/gemini-3.5-flash" in [m.name for m in client.models.list()]
        model = client.models.get(model="gemini-3.5-flash")
        assert (model.input_token_limit, model.output_token_limit, model.thinking) == (500_000, 32_768, True)
        response = client.models.generate_content(model="gemini-3.5-flash", contents="Hello there.")
        assert response.model_version == "gemini-3.5-flash"
        assert response.usage_metadata is not None
        assert (response.usage_metadata.thoughts_token_count or 0) > 0  # a 3.x model thinks by default
        job = client.batches.create(
            model="gemini-3.5-flash", src=[{"contents": [{"parts": [{"text": "x"}]}]}]
        )
        assert job.model == "models/gemini-3.5-flash"
