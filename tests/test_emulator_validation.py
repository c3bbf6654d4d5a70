"""Strict request checks as on the service, through the SDK: status, exception type and message."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from emulator_helpers import MODEL, raw, wait_done
from google.genai import errors, types

from gembatch import load_catalog
from gembatch.emulator import Emulator, running

SIZE_LIMIT = "Request payload size exceeds the limit: 20971520 bytes."


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running() as emulator:
        yield emulator


def _refused(call: Any) -> errors.ClientError:
    with pytest.raises(errors.ClientError) as info:
        call()
    return info.value


def _extra(body: dict[str, Any]) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(http_options=types.HttpOptions(extra_body=body))


def test_unknown_fields_are_refused_naming_them(emu: Emulator) -> None:
    models = emu.client().models
    top = _refused(lambda: models.generate_content(model=MODEL, contents="hi", config=_extra({"foo": 1})))
    assert top.code == 400
    assert top.status == "INVALID_ARGUMENT"
    assert top.message == 'Invalid JSON payload received. Unknown name "foo": Cannot find field.'
    nested = _refused(
        lambda: models.generate_content(
            model=MODEL,
            contents="hi",
            config=_extra({"generationConfig": {"thinkingConfig": {"budget": 5}, "maxTokens": 3}}),
        )
    )
    assert nested.message == (
        "Invalid JSON payload received. Unknown name \"budget\" at 'generation_config.thinking_config': "
        'Cannot find field.\nInvalid JSON payload received. Unknown name "maxTokens" at '
        "'generation_config': Cannot find field."
    )
    violations = nested.details["error"]["details"][0]["fieldViolations"]
    assert [v["field"] for v in violations] == ["generation_config.thinking_config", "generation_config"]
    # countTokens takes no system instruction on the Gemini API: its parser refuses the name.
    config = types.CountTokensConfig(
        http_options=types.HttpOptions(extra_body={"systemInstruction": {"parts": [{"text": "x"}]}})
    )
    counted = _refused(lambda: models.count_tokens(model=MODEL, contents="hi", config=config))
    assert (
        counted.message
        == 'Invalid JSON payload received. Unknown name "systemInstruction": Cannot find field.'
    )


def test_wrong_types_are_refused_like_the_proto_parser(emu: Emulator) -> None:
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"maxOutputTokens": "many"}}
    reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:generateContent", json=body)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == (
        "Invalid value at 'generation_config.max_output_tokens' (TYPE_INT32), \"many\""
    )
    # Both spellings of a name are the same field, as for the service's parser.
    body = {"contents": [{"parts": [{"text": "hi"}]}], "generation_config": {"max_output_tokens": 8}}
    assert raw(emu, "POST", f"/v1beta/models/{MODEL}:generateContent", json=body).status_code == 200


def test_generation_config_values_are_checked(emu: Emulator) -> None:
    models = emu.client().models

    def call(**config: Any) -> errors.ClientError:
        cfg = types.GenerateContentConfig(**config)
        return _refused(lambda: models.generate_content(model=MODEL, contents="hi", config=cfg))

    assert call(candidate_count=0).code == 400
    assert "candidate_count" in (call(candidate_count=9).message or "")
    over = call(max_output_tokens=65_537)
    assert over.code == 400
    assert over.message == (
        "Unable to submit request because it has a maxOutputTokens value of 65537 but the supported "
        "range is from 1 (inclusive) to 65537 (exclusive). Update the value and try again."
    )
    assert "maxOutputTokens value of 0" in (call(max_output_tokens=0).message or "")
    assert "response_logprobs is true" in (call(logprobs=3).message or "")
    assert call(response_logprobs=True).message == "Logprobs is not enabled for models/gemini-2.5-flash"
    assert "temperature" in (call(temperature=2.5).message or "")
    mime = call(response_mime_type="text/html")
    assert "allowed mimetypes" in (mime.message or "")


def test_file_references_must_be_files_of_this_project(emu: Emulator) -> None:
    client = emu.client()
    gs = types.Part.from_uri(file_uri="gs://bucket/scones.jpg", mime_type="image/jpeg")
    bad = _refused(lambda: client.models.generate_content(model=MODEL, contents=["Describe", gs]))
    assert bad.code == 400
    assert bad.message == "Invalid or unsupported file uri: gs://bucket/scones.jpg"
    empty = types.Part(file_data=types.FileData(mime_type="image/jpeg"))
    missing_uri = _refused(lambda: client.models.generate_content(model=MODEL, contents=["Describe", empty]))
    assert missing_uri.message == "Invalid or unsupported file uri: "
    uploaded = client.files.upload(file=io.BytesIO(b"A short story."), config={"mime_type": "text/plain"})
    assert uploaded.uri is not None
    assert uploaded.name is not None
    ok = client.models.generate_content(model=MODEL, contents=["Summarise", uploaded])
    assert ok.usage_metadata is not None
    client.files.delete(name=uploaded.name)
    gone = _refused(lambda: client.models.generate_content(model=MODEL, contents=["Summarise", uploaded]))
    assert gone.code == 403
    assert gone.status == "PERMISSION_DENIED"
    file_id = uploaded.name.removeprefix("files/")
    assert gone.message == f"You do not have permission to access the File {file_id} or it may not exist."


def test_inline_data_needs_its_data_and_contents_their_parts(emu: Emulator) -> None:
    models = emu.client().models
    no_data = _refused(
        lambda: models.generate_content(
            model=MODEL, contents=[{"text": "What is this?"}, {"inline_data": {"mime_type": "image/png"}}]
        )
    )
    assert no_data.code == 400
    assert no_data.status == "INVALID_ARGUMENT"
    assert "inline_data.data" in (no_data.message or "")
    # The SDK refuses empty contents itself; a raw call meets the service's check.
    reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:generateContent", json={"contents": []})
    assert reply.status_code == 400
    assert (
        reply.json()["error"]["message"] == "* GenerateContentRequest.contents: contents is not specified\n"
    )
    no_parts = {"contents": [{"role": "user", "parts": []}]}
    reply = raw(emu, "POST", f"/v1beta/models/{MODEL}:generateContent", json=no_parts)
    assert "contents.parts must not be empty" in reply.json()["error"]["message"]


def test_unknown_cached_content_is_refused(emu: Emulator) -> None:
    models = emu.client().models

    def call(name: str) -> errors.ClientError:
        cfg = types.GenerateContentConfig(cached_content=name)
        return _refused(lambda: models.generate_content(model=MODEL, contents="hi", config=cfg))

    unknown = call("cachedContents/abc123")
    assert unknown.code == 403
    assert unknown.message == "CachedContent not found (or permission denied)"
    assert call("batchPredictionJobs/123").code == 400


def test_upload_with_an_unsupported_mime_type_is_refused(emu: Emulator) -> None:
    with pytest.raises(errors.APIError, match="Unsupported MIME type: bad/mime_type") as info:
        emu.client().files.upload(file=io.BytesIO(b"test"), config={"mime_type": "bad/mime_type"})
    assert info.value.code == 400


def test_bodies_over_20_mib_are_refused_on_generate_and_count(emu: Emulator) -> None:
    models = emu.client().models
    big = "word " * (21 * 1024 * 1024 // 5)
    generated = _refused(lambda: models.generate_content(model=MODEL, contents=big))
    assert generated.code == 400
    assert generated.message == SIZE_LIMIT
    counted = _refused(lambda: models.count_tokens(model=MODEL, contents=big))
    assert counted.message == SIZE_LIMIT


def test_prompt_over_the_context_window_is_refused(emu: Emulator) -> None:
    prompt = "7" * 1_200_000  # every digit is a token: 1.2M tokens in 1.2 MB
    refused = _refused(lambda: emu.client().models.generate_content(model=MODEL, contents=prompt))
    assert refused.code == 400
    assert refused.message == (
        "The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."
    )


def test_batch_lines_get_their_own_errors_and_inline_shape_errors_fail_create() -> None:
    catalog = load_catalog({"gemini-2.5-flash-lite": {"context_window": 50}})
    with running(catalog=catalog) as emu:
        client = emu.client()
        lines = [
            {"key": "ok", "request": {"contents": [{"parts": [{"text": "A short line."}]}]}},
            {"key": "long", "request": {"contents": [{"parts": [{"text": "word " * 80}]}]}},
            {"key": "typo", "request": {"contents": [{"parts": [{"text": "x"}]}], "generation_cfg": {}}},
        ]
        data = ("\n".join(json.dumps(x) for x in lines) + "\n").encode()
        up = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/jsonl"})
        assert up.name is not None
        job = client.batches.create(model="gemini-2.5-flash-lite", src=up.name)
        assert job.name is not None
        done = wait_done(client, job.name, emu)
        assert done.dest is not None
        assert done.dest.file_name is not None
        out = {
            r["key"]: r for r in map(json.loads, client.files.download(file=done.dest.file_name).splitlines())
        }
        assert "response" in out["ok"]
        assert out["long"]["error"]["code"] == 400
        assert out["long"]["error"]["message"] == (
            "The input token count (80) exceeds the maximum number of tokens allowed (50)."
        )
        assert 'Unknown name "generation_cfg"' in out["typo"]["error"]["message"]
        stats = raw(emu, "GET", f"/v1beta/{job.name}").json()["metadata"]["batchStats"]
        assert (stats["successfulRequestCount"], stats["failedRequestCount"]) == ("1", "2")
        # Inline requests are part of the create body: a wrong shape fails the create itself.
        inline = [{"contents": [{"parts": [{"text": "x"}]}], "config": {"candidate_count": 0}}]
        refused = _refused(lambda: client.batches.create(model="gemini-2.5-flash-lite", src=inline))
        assert refused.code == 400
        assert "requests.requests[0].request.generation_config.candidate_count" in (refused.message or "")


def test_files_and_batches_belong_to_the_project_of_the_key() -> None:
    with running(api_keys={"key-a": "project-a", "key-b": "project-b"}) as emu:
        a, b = emu.client("key-a"), emu.client("key-b")
        mine = a.files.upload(file=io.BytesIO(b"A short story."), config={"mime_type": "text/plain"})
        assert mine.name is not None
        job = a.batches.create(model=MODEL, src=[{"contents": [{"parts": [{"text": "hi"}]}]}])
        assert job.name is not None
        foreign = _refused(lambda: b.files.get(name=mine.name))
        assert foreign.code == 403
        assert foreign.message == (
            f"You do not have permission to access the File {mine.name.removeprefix('files/')} "
            "or it may not exist."
        )
        used = _refused(lambda: b.models.generate_content(model=MODEL, contents=["Summarise", mine]))
        assert used.code == 403
        assert _refused(lambda: b.batches.get(name=job.name)).code == 404
        assert [f.name for f in b.files.list()] == []
        assert [j.name for j in b.batches.list()] == []
        assert [j.name for j in a.batches.list()] == [job.name]
        assert a.files.get(name=mine.name).name == mine.name


def test_search_and_functions_mix_only_with_server_side_invocations(emu: Emulator) -> None:
    declaration = types.FunctionDeclaration(name="get_price", description="Price of a stock.")
    tools = [types.Tool(google_search=types.GoogleSearch()), types.Tool(function_declarations=[declaration])]
    models = emu.client().models
    mixed = _refused(
        lambda: models.generate_content(
            model=MODEL, contents="GOOG?", config=types.GenerateContentConfig(tools=tools)
        )
    )
    assert mixed.code == 400
    assert mixed.message == "Tool use with function calling is unsupported"
    allowed = types.GenerateContentConfig(
        tools=tools, tool_config=types.ToolConfig(include_server_side_tool_invocations=True)
    )
    assert models.generate_content(model=MODEL, contents="GOOG?", config=allowed).candidates
