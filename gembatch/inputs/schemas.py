"""Response schemas: turned into the Gemini form the SDK sends, and checked before anything is planned."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gembatch.errors import InputError

__all__ = ["check_schema", "load_schema", "read_text_file", "schema_from_model"]


def schema_from_model(schema: Any) -> dict[str, Any]:
    """A Gemini ``responseSchema`` dict (camelCase) from a pydantic model, a type or a schema dict.

    Uses google-genai's own conversion, so the schema is exactly what the SDK would send.
    """
    import copy
    import warnings

    if isinstance(schema, Mapping):
        _check_shape(schema, "schema")

    from google.genai import _transformers, types

    try:
        # The SDK rewrites a dict schema in place; the caller's dict stays as it was.
        with warnings.catch_warnings():  # an unknown type is reported below, in one line
            warnings.simplefilter("ignore")
            converted = _transformers.t_schema(
                None, copy.deepcopy(schema) if isinstance(schema, dict) else schema
            )
            if converted is None:
                raise ValueError("empty schema")
            if not isinstance(converted, types.Schema):
                converted = types.Schema.model_validate(converted)
    except Exception as exc:  # the SDK raises ValueError/TypeError/ValidationError alike
        reason = " ".join(str(exc).split("For further information")[0].split())[:300]
        raise InputError(f"response schema is not a Gemini schema: {reason}", field="schema") from None
    out: dict[str, Any] = converted.model_dump(mode="json", by_alias=True, exclude_none=True)
    if out.get("title") == "Placeholder":  # the SDK's wrapper name for bare types such as list[str]
        del out["title"]
    check_schema(out)
    return out


def _check_shape(schema: Mapping[str, Any], where: str) -> None:
    """Nested schemas must be objects: ``{"a": "string"}`` is a common slip for ``{"a": {"type": ...}}``."""
    for key in ("items",):
        if key in schema and not isinstance(schema[key], Mapping):
            raise InputError(f"response schema: {where}.{key} must be a schema object, not {schema[key]!r}")
    props = schema.get("properties")
    if props is not None and not isinstance(props, Mapping):
        raise InputError(f"response schema: {where}.properties must map names to schemas, not {props!r}")
    for name, sub in (props or {}).items():
        if not isinstance(sub, Mapping):
            raise InputError(
                f"response schema: {where}.properties.{name} must be a schema object such as "
                f'{{"type": "string"}}, not {sub!r}',
                field="schema",
            )
        _check_shape(sub, f"{where}.properties.{name}")
    if isinstance(schema.get("items"), Mapping):
        _check_shape(schema["items"], f"{where}.items")


_SCHEMA_TYPES = ("STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL")


def check_schema(schema: Mapping[str, Any], where: str = "schema") -> None:
    """Refuse what the service would refuse for every article: unknown types, an ARRAY without
    ``items``, an OBJECT without properties, ``required`` or ``propertyOrdering`` naming no property.

    >>> check_schema({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, "required": ["a"]})
    >>> check_schema({"type": "ARRAY"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gembatch.errors.InputError: response schema: schema is an ARRAY without items; ...
    """

    def fail(problem: str) -> InputError:
        return InputError(f"response schema: {problem}", field="schema")

    kind = schema.get("type")
    if kind is not None:
        if not isinstance(kind, str) or kind.upper() not in _SCHEMA_TYPES:
            raise fail(f"{where}.type {kind!r} is not a Gemini type ({', '.join(_SCHEMA_TYPES)})")
        kind = kind.upper()
    props = schema.get("properties") or {}
    if kind == "ARRAY" and not schema.get("items"):
        raise fail(f"{where} is an ARRAY without items; say what it holds, e.g. items: {{type: STRING}}")
    if kind == "OBJECT" and not props and not schema.get("anyOf"):
        raise fail(f"{where} is an OBJECT without properties; name at least one")
    for key in ("required", "propertyOrdering"):
        unknown = [name for name in schema.get(key) or [] if name not in props]
        if unknown:
            raise fail(f"{where}.{key} names {unknown[0]!r}, which is not among its properties")
    for name, sub in props.items():
        check_schema(sub, f"{where}.properties.{name}")
    if schema.get("items"):
        check_schema(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf") or []):
        check_schema(sub, f"{where}.anyOf[{i}]")


def load_schema(schema: Any) -> Any:
    """A response schema from a dict, a pydantic model, a ``.json`` path or ``"package.module:Model"``."""
    if schema is None or isinstance(schema, dict):
        return schema
    if isinstance(schema, os.PathLike) or (isinstance(schema, str) and schema.endswith(".json")):
        text = read_text_file(schema, "schema")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"schema file {str(schema)!r} is not valid JSON: {exc}", field="schema"
            ) from None
        if not isinstance(value, dict):
            raise InputError(f"schema file {str(schema)!r} must hold a JSON object", field="schema")
        return value
    if isinstance(schema, str):
        module, sep, name = schema.partition(":")
        if not sep or not module or not name:
            raise InputError(
                f"schema {schema!r}: use 'package.module:Model' or a path to a .json schema file",
                field="schema",
            )
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"schema {schema!r} cannot be imported: {exc}", field="schema") from None
    return schema  # a pydantic model or another type the SDK turns into a schema


def read_text_file(path: str | os.PathLike[str], what: str) -> str:
    """The UTF-8 text of the file ``what`` names, or one :class:`InputError` saying why not."""
    try:
        return Path(path).read_text("utf-8")
    except FileNotFoundError:
        raise InputError(f"cannot read {what} {str(path)!r}: it does not exist", field=what) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise InputError(f"cannot read {what} {str(path)!r}: {reason}", field=what) from None
