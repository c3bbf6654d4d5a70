"""Pure parts of the emulator: tokenizer, request reading, clock, schema values."""

from __future__ import annotations

from gembatch.emulator import count_tokens
from gembatch.emulator._clock import Clock
from gembatch.emulator._model import generate
from gembatch.emulator._proto import read_message

ENGLISH = (
    "The committee met on Thursday to discuss the proposed changes to the regional transport plan, "
    "which would extend two tram lines and add forty electric buses by the end of next year."
)


def test_tokenizer_is_deterministic_and_about_four_chars_per_token() -> None:
    assert count_tokens(ENGLISH) == count_tokens(ENGLISH)
    ratio = len(ENGLISH) / count_tokens(ENGLISH)
    assert 3.5 < ratio < 5.0
    assert count_tokens("") == 0
    assert count_tokens("2026") == 4  # digits are single tokens
    assert count_tokens("internationalisation") > count_tokens("nation")


def test_reading_camelcases_names_but_keeps_user_names() -> None:
    body = {
        "request": {
            "contents": [{"parts": [{"text": "hi"}]}],
            "generation_config": {
                "response_schema": {
                    "properties": {"my_field": {"min_items": 1}},
                    "property_ordering": ["my_field"],
                },
                "thinking_config": {"thinking_budget": 0},
            },
        },
        "metadata": {"user_key": "x"},
    }
    out = read_message("BatchLine", body)
    config = out["request"]["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 0}
    assert config["responseSchema"]["properties"] == {"my_field": {"minItems": 1}}
    assert config["responseSchema"]["propertyOrdering"] == ["my_field"]
    assert out["metadata"] == {"user_key": "x"}


def test_clock_speed_advance_and_round_trip() -> None:
    clock = Clock(speed=600, anchor_real=1000.0, anchor_emulated=1000.0)
    clock.advance(3600)
    restored = Clock.from_dict(clock.to_dict())
    assert abs(restored.now() - clock.now()) < 5 * 600  # same emulated time, give or take a few real seconds
    faster = Clock.from_dict(clock.to_dict(), speed=1200)
    assert faster.speed == 1200
    assert abs(faster.now() - clock.now()) < 5 * 1200


def test_schema_values_cover_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "number", "minimum": -1, "maximum": 1},
            "i": {"type": "integer", "minimum": 10, "maximum": 10},
            "b": {"type": "boolean"},
            "e": {"type": "string", "enum": ["x", "y"]},
            "maybe": {"anyOf": [{"type": "null"}, {"type": "string"}]},
            "when": {"type": "string", "format": "date"},
            "nested": {
                "type": "object",
                "properties": {"k": {"type": "array", "items": {"type": "integer"}}},
            },
        },
    }
    request = {
        "contents": [{"parts": [{"text": ENGLISH}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }
    import json

    first = generate(request, "m")
    value = json.loads(first["candidates"][0]["content"]["parts"][0]["text"])
    assert -1 <= value["n"] <= 1
    assert value["i"] == 10
    assert isinstance(value["b"], bool)
    assert value["e"] in ("x", "y")
    assert isinstance(value["maybe"], str)
    assert value["when"] == "2026-01-01"
    assert all(isinstance(k, int) for k in value["nested"]["k"])
    assert generate(request, "m") == first


def test_extractive_answer_skips_the_prompt_instruction():
    from gembatch.emulator._model import generate

    prompt = (
        "Summarise this article in one sentence:\n\nApples grow on trees. They are red. Farmers pick them."
    )
    request = {"contents": [{"role": "user", "parts": [{"text": prompt}]}]}
    text = generate(request, "gemini-2.5-flash-lite")["candidates"][0]["content"]["parts"][0]["text"]
    assert text.startswith("Apples grow on trees.")
    assert "Summarise" not in text
    assert "summarise" not in text.lower().split("keywords:")[1]
