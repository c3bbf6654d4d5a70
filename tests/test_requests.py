"""Request lines: spec, templates, structured output, google-genai validation, streaming writer."""

from __future__ import annotations

import io
import json
from typing import Literal

import pytest
from google.genai import types
from pydantic import BaseModel

import gembatch as gb
from gembatch.errors import InputError
from gembatch.inputs.request_lines import (
    PromptTemplate,
    RequestSpec,
    inlined_request,
    iter_request_lines,
    request_line,
    validate_request,
    write_jsonl,
)


class Summary(BaseModel):
    headline: str
    topics: list[str]
    sentiment: Literal["positive", "neutral", "negative"]
    score: float | None = None


def articles():
    return gb.read_articles([
        {"id": "a1", "title": "Bridge", "text": "The bridge reopened.", "year": 2026},
        {"id": "a2", "title": "Budget", "text": 'Council says "no".', "year": None},
    ])  # fmt: skip


def test_line_shape_and_template_columns():
    spec = RequestSpec.create("models/gemini-2.5-flash-lite", "{title} ({year}): {text}",
                              system_instruction="Be brief.", temperature=0.2, max_output_tokens=256,
                              thinking_budget=0)  # fmt: skip
    assert spec.model == "gemini-2.5-flash-lite"
    lines = list(iter_request_lines(articles(), spec))
    assert [line["key"] for line in lines] == ["a1", "a2"]
    req = lines[0]["request"]
    assert set(req) == {"contents", "systemInstruction", "generationConfig"}
    assert req["contents"] == [{"role": "user", "parts": [{"text": "Bridge (2026): The bridge reopened."}]}]
    assert lines[1]["request"]["contents"][0]["parts"][0]["text"] == 'Budget (): Council says "no".'
    assert req["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert req["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 256,
                                       "thinkingConfig": {"thinkingBudget": 0}}  # fmt: skip


def test_minimal_request_has_only_contents():
    req = RequestSpec("gemini-2.5-flash-lite").build_request({"text": "hi"})
    assert req == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    assert request_line("k", req) == {"key": "k", "request": req}


def test_template_braces():
    t = PromptTemplate('Return JSON like {"a": 1} for {text}; {{text}} is literal')
    assert t.fields == ("text",)
    assert t.render({"text": "X"}) == 'Return JSON like {"a": 1} for X; {text} is literal'
    assert t.static_text == 'Return JSON like {"a": 1} for ; {text} is literal'
    with pytest.raises(InputError, match=r"\{title\}"):
        PromptTemplate("{title}").render({"text": "x"})


def test_structured_output_from_a_pydantic_model():
    spec = RequestSpec.create("gemini-2.5-flash", schema=Summary)
    cfg = spec.build_request({"text": "x"})["generationConfig"]
    assert cfg["responseMimeType"] == "application/json"
    schema = cfg["responseSchema"]
    assert schema["type"] == "OBJECT"
    assert set(schema["properties"]) == {"headline", "topics", "sentiment", "score"}
    assert schema["properties"]["topics"] == {"type": "ARRAY", "items": {"type": "STRING"}, "title": "Topics"}
    assert schema["properties"]["sentiment"]["enum"] == ["positive", "neutral", "negative"]
    assert set(schema["required"]) == {"headline", "topics", "sentiment"}
    # the SDK's own Schema type accepts it back
    assert types.Schema.model_validate(schema).properties["score"].nullable is True


def test_bad_schema_is_an_input_error():
    with pytest.raises(InputError, match="response schema"):
        RequestSpec.create("gemini-2.5-flash", schema=object())


def test_lines_validate_against_google_genai_types():
    spec = RequestSpec.create("gemini-2.5-flash", "Summarise {title}:\n{text}", schema=Summary,
                              system_instruction="You edit news.", temperature=0.0, max_output_tokens=512,
                              thinking_budget=128)  # fmt: skip
    for line in iter_request_lines(articles(), spec):
        validate_request(line["request"])
        inlined = inlined_request(line)
        assert isinstance(inlined, types.InlinedRequest)
        assert inlined.metadata == {"key": line["key"]}
        assert inlined.config.response_mime_type == "application/json"
        assert inlined.config.thinking_config.thinking_budget == 128
        assert inlined.config.system_instruction.parts[0].text == "You edit news."
        assert inlined.contents[0].parts[0].text.startswith("Summarise ")
        # and the SDK's GenerateContentConfig takes the same fields
        types.GenerateContentConfig.model_validate(inlined.config.model_dump(exclude_none=True))


def test_validation_catches_broken_requests():
    with pytest.raises(InputError, match="unknown field"):
        validate_request({"contents": [], "bogus": 1})
    with pytest.raises(InputError, match="non-empty list"):
        validate_request({"contents": []})
    with pytest.raises(InputError, match="google-genai"):
        validate_request({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutTokens": 5}})


def test_spec_round_trip_and_fingerprint():
    spec = RequestSpec.create("gemini-2.5-flash", "Q: {text}", schema=Summary, temperature=0.5)
    data = json.loads(json.dumps(spec.to_dict()))
    again = RequestSpec.from_dict(data)
    assert again == spec
    assert again.fingerprint() == spec.fingerprint()
    assert RequestSpec.from_dict({**data, "expected_output_tokens": 999}).fingerprint() == spec.fingerprint()
    assert RequestSpec.from_dict({**data, "prompt": "Other: {text}"}).fingerprint() != spec.fingerprint()
    with pytest.raises(InputError, match="unknown RequestSpec field"):
        RequestSpec.from_dict({**data, "colour": "red"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": ""}, "model"),
        ({"prompt": "  "}, "prompt"),
        ({"temperature": 3.0}, "temperature"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"expected_output_tokens": -1}, "expected_output_tokens"),
    ],
)
def test_spec_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        RequestSpec(**{"model": "gemini-2.5-flash", **kwargs})


def test_write_jsonl_streams_to_a_path_and_a_binary_file(tmp_path):
    arts = gb.read_articles(gb.synthetic_articles(700))
    spec = RequestSpec("gemini-2.5-flash-lite")
    path = tmp_path / "out.jsonl"
    n = write_jsonl(iter_request_lines(arts, spec), path)
    data = path.read_bytes()
    assert n == len(data)
    lines = data.decode().splitlines()
    assert len(lines) == 700
    first = json.loads(lines[0])
    assert first["key"] == arts.index[0]
    assert first["request"]["contents"][0]["parts"][0]["text"] == arts["text"].iloc[0]
    assert not (tmp_path / "out.jsonl.part").exists()
    buf = io.BytesIO()
    assert write_jsonl(iter_request_lines(arts.iloc[:3], spec), buf) == len(buf.getvalue())
    assert buf.getvalue().count(b"\n") == 3


def test_write_jsonl_consumes_a_generator_lazily(tmp_path):
    produced = []

    def lines():
        for i in range(1000):
            produced.append(i)
            yield {"key": str(i), "request": {"contents": []}}

    class Probe(io.BytesIO):
        max_seen = 0

        def write(self, b):  # each write sees only a bounded number of lines produced so far
            Probe.max_seen = max(Probe.max_seen, len(produced) - self.getvalue().count(b"\n"))
            return super().write(b)

    write_jsonl(lines(), Probe())
    assert 0 < Probe.max_seen <= 256


def test_specs_hash_by_what_shapes_requests():
    a = RequestSpec.create("gemini-2.5-flash", schema=Summary)
    b = RequestSpec.create("gemini-2.5-flash", schema=Summary)
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b, RequestSpec("gemini-2.5-flash")}) == 2


def test_docstring_examples_run():
    import doctest

    import gembatch.inputs.articles
    import gembatch.inputs.datasets
    import gembatch.inputs.prompts
    import gembatch.inputs.request_lines
    import gembatch.inputs.schemas
    import gembatch.inputs.tokens
    import gembatch.planning.cost

    modules = (
        gembatch.inputs.articles,
        gembatch.planning.cost,
        gembatch.inputs.datasets,
        gembatch.inputs.request_lines,
        gembatch.inputs.prompts,
        gembatch.inputs.schemas,
        gembatch.inputs.tokens,
    )
    for module in modules:
        result = doctest.testmod(module)
        assert result.failed == 0, module.__name__
        assert result.attempted > 0, module.__name__


def test_json_schema_dicts_and_bare_types_are_accepted():
    from gembatch.inputs.request_lines import schema_from_model

    given = {"type": "object", "properties": {"summary": {"type": "string"}}, "required": ["summary"]}
    before = json.dumps(given, sort_keys=True)
    schema = schema_from_model(given)
    assert schema["type"] == "OBJECT"
    assert schema["properties"]["summary"] == {"type": "STRING"}
    assert json.dumps(given, sort_keys=True) == before  # the caller's dict is not rewritten
    assert schema_from_model(list[str]) == {"type": "ARRAY", "items": {"type": "STRING"}}
    spec = gb.plan(["one"], model="gemini-2.5-flash-lite", schema=given).spec
    assert spec.response_schema == schema
