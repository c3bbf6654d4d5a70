"""The deterministic model: generateContent and countTokens through the SDK (sync and aio)."""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Iterator

import pytest
from emulator_helpers import MODEL
from google.genai import types
from pydantic import BaseModel, Field

from gembatch.emulator import Emulator, count_tokens, running

ARTICLE = (
    "The city council approved a new budget on Tuesday. Spending on schools rises by four percent. "
    "Critics said the plan ignores transport. The mayor promised a review of bus routes next year."
)


class Sentiment(enum.Enum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"


class Entity(BaseModel):
    name: str
    salience: float = Field(ge=0, le=1)


class Summary(BaseModel):
    title: str
    summary: str
    sentiment: Sentiment
    relevance_score: int = Field(ge=1, le=5)
    is_local: bool
    topics: list[str]
    entities: list[Entity]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running() as emulator:
        yield emulator


def test_count_tokens_matches_tokenizer_and_usage(emu: Emulator) -> None:
    client = emu.client()
    counted = client.models.count_tokens(model=MODEL, contents=ARTICLE).total_tokens
    assert counted == count_tokens(ARTICLE)
    assert 30 < counted < len(ARTICLE) / 2.5  # roughly four characters a token
    response = client.models.generate_content(model=MODEL, contents=ARTICLE)
    usage = response.usage_metadata
    assert usage is not None
    assert usage.prompt_token_count == counted
    assert usage.candidates_token_count == count_tokens(response.text or "")
    # gemini-2.5-flash thinks by default, and thoughts are part of the total (billed as output).
    assert usage.thoughts_token_count > 0
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )
    assert response.candidates[0].finish_reason == types.FinishReason.STOP


def test_same_request_same_answer_extractive(emu: Emulator) -> None:
    client = emu.client()
    a = client.models.generate_content(model=MODEL, contents=ARTICLE)
    b = client.models.generate_content(model=MODEL, contents=ARTICLE)
    assert a.text == b.text
    assert a.response_id == b.response_id
    assert (a.text or "").startswith("The city council approved a new budget on Tuesday.")
    assert "budget" in (a.text or "") or "council" in (a.text or "")
    other = client.models.generate_content(model=MODEL, contents="Another text. Entirely different.")
    assert other.text != a.text


@pytest.mark.parametrize(
    "prompt",
    [
        "Summarise in one sentence: {text}",  # the README's quick-start prompt: one line
        "Summarise this article for a busy reader:\n\n{text}",
        "Article: {text}",
    ],
)
def test_answer_comes_from_the_article_not_the_instruction(emu: Emulator, prompt: str) -> None:
    client = emu.client()
    response = client.models.generate_content(model=MODEL, contents=prompt.format(text=ARTICLE))
    text = response.text or ""
    assert text.startswith("The city council approved a new budget on Tuesday.")
    instruction = prompt.split("{text}", maxsplit=1)[0].strip()
    assert instruction not in text
    assert "summarise" not in text.lower()


def test_structured_output_validates_with_pydantic(emu: Emulator) -> None:
    client = emu.client()
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Summary)
    response = client.models.generate_content(model=MODEL, contents=ARTICLE, config=config)
    parsed = Summary.model_validate_json(response.text or "")
    assert 1 <= parsed.relevance_score <= 5
    assert isinstance(response.parsed, Summary)


@pytest.mark.parametrize("casing", ["camel", "snake"])
def test_raw_schema_in_either_casing(emu: Emulator, casing: str) -> None:
    schema = {
        "type": "OBJECT",
        "properties": {
            "label": {"type": "STRING", "enum": ["a", "b"]},
            "count_items": {"type": "INTEGER", "minimum": 3, "maximum": 4},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 2, "maxItems": 2},
        },
        "required": ["label", "count_items", "tags"],
        "propertyOrdering": ["label", "count_items", "tags"],
    }
    if casing == "snake":
        schema["property_ordering"] = schema.pop("propertyOrdering")
        schema["properties"]["tags"]["min_items"] = schema["properties"]["tags"].pop("minItems")  # type: ignore[index]
        config = {"response_mime_type": "application/json", "response_schema": schema}
        body = {"contents": [{"parts": [{"text": ARTICLE}]}], "generation_config": config}
    else:
        config = {"responseMimeType": "application/json", "responseSchema": schema}
        body = {"contents": [{"parts": [{"text": ARTICLE}]}], "generationConfig": config}
    import httpx

    reply = httpx.post(
        f"{emu.base_url}/v1beta/models/{MODEL}:generateContent", json=body, headers={"x-goog-api-key": "k"}
    )
    assert reply.status_code == 200
    value = json.loads(reply.json()["candidates"][0]["content"]["parts"][0]["text"])
    assert list(value) == ["label", "count_items", "tags"]
    assert value["label"] in ("a", "b")
    assert value["count_items"] in (3, 4)
    assert len(value["tags"]) == 2


def test_thinking_tokens_counted_in_total(emu: Emulator) -> None:
    client = emu.client()
    config = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=512))
    usage = client.models.generate_content(model=MODEL, contents=ARTICLE, config=config).usage_metadata
    assert usage is not None
    assert 0 < (usage.thoughts_token_count or 0) <= 512
    assert usage.total_token_count == (
        usage.prompt_token_count + usage.candidates_token_count + usage.thoughts_token_count
    )
    off = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0))
    assert (
        client.models.generate_content(
            model=MODEL, contents=ARTICLE, config=off
        ).usage_metadata.thoughts_token_count
        is None
    )


def test_max_output_tokens_truncates(emu: Emulator) -> None:
    client = emu.client()
    config = types.GenerateContentConfig(
        max_output_tokens=5, thinking_config=types.ThinkingConfig(thinking_budget=0)
    )
    response = client.models.generate_content(model=MODEL, contents=ARTICLE, config=config)
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.usage_metadata.candidates_token_count == 5


def test_async_generate_and_count(emu: Emulator) -> None:
    client = emu.client()

    async def go() -> tuple[str, int]:
        response = await client.aio.models.generate_content(model=MODEL, contents=ARTICLE)
        counted = await client.aio.models.count_tokens(model=MODEL, contents=ARTICLE)
        return response.text or "", counted.total_tokens or 0

    text, tokens = asyncio.run(go())
    assert text.startswith("The city council")
    assert tokens == count_tokens(ARTICLE)


def test_system_instruction_counts_as_prompt(emu: Emulator) -> None:
    client = emu.client()
    config = types.GenerateContentConfig(system_instruction="Be brief and factual.")
    usage = client.models.generate_content(model=MODEL, contents=ARTICLE, config=config).usage_metadata
    assert usage.prompt_token_count == count_tokens(ARTICLE) + count_tokens("Be brief and factual.")


def test_models_list_get_and_stream(emu: Emulator) -> None:
    client = emu.client()
    assert f"models/{MODEL}" in [m.name for m in client.models.list()]
    assert client.models.get(model=MODEL).input_token_limit == 1_048_576
    chunks = list(client.models.generate_content_stream(model=MODEL, contents=ARTICLE))
    assert (
        "".join(c.text or "" for c in chunks)
        == client.models.generate_content(model=MODEL, contents=ARTICLE).text
    )
