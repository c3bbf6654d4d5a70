"""Response schemas are checked before anything is planned: what the service would refuse for every
article is refused here, in one line naming the place in the schema."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import gembatch as gb
from gembatch.inputs.request_lines import RequestSpec, check_schema, schema_from_model

MODEL = "gemini-2.5-flash-lite"

BAD: list[tuple[Any, str]] = [
    ({"type": "objekt"}, "schema.type 'objekt' is not a Gemini type"),
    ({"type": "object", "properties": {"a": {"type": "strin"}}}, "schema.properties.a.type 'strin'"),
    ({"type": "object", "properties": {"a": "string"}}, "schema.properties.a must be a schema object"),
    ({"type": "object", "propertiez": {"a": {"type": "string"}}}, "propertiez"),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}, "required names 'b'"),
    ({"type": "array"}, "ARRAY without items"),
    ({"type": "array", "items": "string"}, "schema.items must be a schema object"),
    ({"type": "object"}, "OBJECT without properties"),
    ({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "nope"}}}}, "a.items.type"),
    ({}, "empty schema"),
    ({"type": "string", "enum": [1, 2]}, "enum"),
]


@pytest.mark.parametrize(("schema", "needle"), BAD)
def test_bad_schemas_are_refused_in_one_line(schema: Any, needle: str) -> None:
    with pytest.raises(gb.InputError) as info:
        schema_from_model(schema)
    message = str(info.value)
    assert needle in message
    assert message.startswith("response schema")
    assert "\n" not in message


@pytest.mark.parametrize(("schema", "needle"), BAD[:3])
def test_plan_refuses_a_bad_schema_before_planning(schema: Any, needle: str) -> None:
    articles = gb.read_articles(gb.synthetic_articles(3, seed=4), id_col="id")
    with pytest.raises(gb.InputError, match="response schema"):
        gb.plan(articles, MODEL, prompt="Classify: {text}", schema=schema)


def test_a_spec_built_directly_is_checked_too() -> None:
    with pytest.raises(gb.InputError, match="ARRAY without items"):
        RequestSpec(MODEL, "Tag: {text}", response_schema={"type": "ARRAY"})


class Topic(BaseModel):
    topic: str
    confidence: float
    tags: list[str]


def test_good_schemas_pass_unchanged_through_the_check() -> None:
    for schema in (Topic, list[str], {"type": "object", "properties": {"a": {"type": "string"}}}):
        converted = schema_from_model(schema)
        check_schema(converted)
        assert converted["type"] in ("OBJECT", "ARRAY")
    plan = gb.plan(gb.read_articles(gb.synthetic_articles(3, seed=5), id_col="id"), MODEL, schema=Topic)
    assert plan.spec.response_schema is not None
    assert plan.spec.response_schema["required"] == ["topic", "confidence", "tags"]
