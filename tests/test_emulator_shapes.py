"""Response shapes as on the service: candidates, enums, streams, usage details, pages, gzip."""

from __future__ import annotations

import enum
import io
from collections.abc import Iterator

import httpx
import pytest
from emulator_helpers import MODEL, raw
from google.genai import types

from gembatch.emulator import Emulator, count_tokens, running

ARTICLE = (
    "The city council approved a new budget on Tuesday. Spending on schools rises by four percent. "
    "Critics said the plan ignores transport. The mayor promised a review of bus routes next year. "
    "Bus drivers welcomed the review and asked for new routes in the east of the city."
)
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
LITE = "gemini-2.5-flash-lite"  # no thinking by default: usage holds only prompt and answer


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running() as emulator:
        yield emulator


def test_candidate_count_gives_that_many_candidates(emu: Emulator) -> None:
    config = types.GenerateContentConfig(candidate_count=3)
    response = emu.client().models.generate_content(model=LITE, contents=ARTICLE, config=config)
    assert response.candidates is not None
    assert [c.index for c in response.candidates] == [0, 1, 2]
    texts = [c.content.parts[0].text for c in response.candidates]  # type: ignore[union-attr,index]
    assert len(set(texts)) == 3
    assert response.usage_metadata is not None
    assert response.usage_metadata.candidates_token_count == sum(count_tokens(t or "") for t in texts)


def test_enum_mime_type_answers_the_bare_value(emu: Emulator) -> None:
    config = types.GenerateContentConfig(response_mime_type="text/x.enum", response_schema=Mood)
    response = emu.client().models.generate_content(model=LITE, contents=ARTICLE, config=config)
    assert response.text in ("happy", "sad")  # not '"happy"'
    assert response.parsed in (Mood.HAPPY, Mood.SAD)


def test_streaming_sends_several_chunks_that_join_to_the_answer(emu: Emulator) -> None:
    client = emu.client()
    chunks = list(client.models.generate_content_stream(model=LITE, contents=ARTICLE * 3))
    whole = client.models.generate_content(model=LITE, contents=ARTICLE * 3)
    assert len(chunks) > 2
    assert "".join(c.text or "" for c in chunks) == whole.text
    assert chunks[-1].candidates is not None
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert all(c.candidates[0].finish_reason is None for c in chunks[:-1])  # type: ignore[index]
    assert chunks[-1].usage_metadata == whole.usage_metadata


def test_usage_details_per_modality(emu: Emulator) -> None:
    contents = ["Hello world.", types.Part.from_bytes(data=PIXEL, mime_type="image/png")]
    usage = emu.client().models.generate_content(model=LITE, contents=contents).usage_metadata
    assert usage is not None
    assert usage.candidates_tokens_details is not None
    assert [(d.modality.name, d.token_count) for d in usage.candidates_tokens_details] == [  # type: ignore[union-attr]
        ("TEXT", usage.candidates_token_count)
    ]
    assert usage.prompt_tokens_details is not None
    details = {d.modality.name: d.token_count for d in usage.prompt_tokens_details}  # type: ignore[union-attr]
    assert details == {"IMAGE": 258, "TEXT": 3}
    assert usage.prompt_token_count == 261


def test_models_list_pages(emu: Emulator) -> None:
    client = emu.client()
    pager = client.models.list(config={"page_size": 2})
    assert len(pager.page) == 2
    names = [m.name for m in pager]
    assert len(names) == len(set(names)) > 2
    assert f"models/{MODEL}" in names
    assert "models/gemini-embedding-001" in names
    first = raw(emu, "GET", "/v1beta/models?pageSize=2").json()
    assert len(first["models"]) == 2
    assert first["nextPageToken"] not in ("2", "1")  # an opaque cursor, not an offset
    assert raw(emu, "GET", "/v1beta/models?pageToken=bogus").status_code == 400
    flash = client.models.get(model=MODEL)
    assert flash.thinking is True
    assert flash.output_token_limit == 65_536


def test_files_pages_are_cursors_a_new_upload_is_not_listed_twice() -> None:
    with running() as emu:
        client = emu.client()
        for i in range(5):
            client.files.upload(file=io.BytesIO(b"x" * (i + 1)), config={"mime_type": "text/plain"})
        first = raw(emu, "GET", "/v1beta/files?pageSize=2").json()
        emu.advance(60)
        client.files.upload(file=io.BytesIO(b"new"), config={"mime_type": "text/plain"})
        token, seen = first["nextPageToken"], [f["name"] for f in first["files"]]
        while token:
            page = raw(emu, "GET", f"/v1beta/files?pageSize=2&pageToken={token}").json()
            seen += [f["name"] for f in page["files"]]
            token = page.get("nextPageToken")
        assert len(seen) == len(set(seen)) == 5  # the new file sorts before the cursor: not listed


def test_gzip_when_the_client_accepts_it(emu: Emulator) -> None:
    url = f"{emu.base_url}/v1beta/models"
    zipped = httpx.get(url, headers={"x-goog-api-key": "k", "Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.json()["models"]
    plain = httpx.get(url, headers={"x-goog-api-key": "k", "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.json() == zipped.json()
