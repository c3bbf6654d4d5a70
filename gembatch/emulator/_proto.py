"""A proto-JSON reader for request bodies: unknown names and wrong types answer 400 like the service.

The service parses every body into its protobuf messages; a field it does not know, or a value of
the wrong type, is refused before anything else runs, with every violation listed. The messages
(:mod:`gembatch.emulator._messages`) are the Gemini Developer API's (v1beta) as far as the SDK
sends them. Either spelling of a name is accepted (``thinking_budget`` or ``thinkingBudget``), as
the service's parser does; paths in messages use the proto (snake_case) names.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from gembatch.emulator._errors import ApiError
from gembatch.emulator._messages import ENUMS, MESSAGES

__all__ = ["read_message"]

_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta."
_INT32 = (-(2**31), 2**31 - 1)

_SCALAR_TYPES = {
    "string": "TYPE_STRING",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float": "TYPE_FLOAT",
    "bool": "TYPE_BOOL",
    "bytes": "TYPE_BYTES",
}
_CAMEL = re.compile(r"_([a-z0-9])")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
_BASE64 = re.compile(r"^[A-Za-z0-9+/\-_]*={0,2}$")


def _camel(name: str) -> str:
    return name if name.startswith("_") else _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name.lstrip("_")).lower()


class _Reader:
    """Walks one body, collecting every violation like the service's parser."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def message(self, name: str, value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, f"Invalid value at '{path}' ({_TYPE}{name}), {_show(value)}")
            return None
        fields = MESSAGES[name]
        out: dict[str, Any] = {}
        for key, item in value.items():
            name_in = _camel(key) if isinstance(key, str) else key
            spec = fields.get(name_in)
            if spec is None:
                where = f" at '{path}'" if path else ""
                self.fail(
                    path, f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
                )
                continue
            if item is None:  # proto-JSON reads null as "not set"
                continue
            child = f"{path}.{_snake(name_in)}" if path else _snake(name_in)
            out[name_in.lstrip("_")] = self.field(spec, item, child, key)
        return out

    def field(self, spec: str, value: Any, path: str, key: str) -> Any:
        if spec.startswith("["):
            inner = spec[1:-1]
            if not isinstance(value, list):
                return [self.value(inner, value, path)]
            return [self.value(inner, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, list) and spec != "any":
            parent, _, _leaf = path.rpartition(".")
            where = f" at '{parent}'" if parent else ""
            self.fail(
                parent,
                f'Invalid JSON payload received. Unknown name "{key}"{where}: '
                "Proto field is not repeating, cannot start list.",
            )
            return None
        if spec.startswith("{"):
            inner = spec[1:-1]
            if not isinstance(value, dict):
                self.fail(path, f"Invalid value at '{path}' (map), {_show(value)}")
                return None
            return {k: self.value(inner, v, f"{path}[{i}].value") for i, (k, v) in enumerate(value.items())}
        return self.value(spec, value, path)

    def value(self, spec: str, value: Any, path: str) -> Any:
        if spec == "any":
            return value
        if spec in MESSAGES:
            return self.message(spec, value, path)
        if spec.startswith("enum:"):
            return self.enum(spec[5:], value, path)
        return self.scalar(spec, value, path)

    def enum(self, name: str, value: Any, path: str) -> Any:
        allowed = ENUMS[name]
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(allowed):
            return value
        if isinstance(value, str) and value.upper() in allowed:
            return value.upper()
        self.fail(path, f"Invalid value at '{path}' ({_TYPE}{name}), {_show(value)}")
        return None

    def scalar(self, kind: str, value: Any, path: str) -> Any:
        bad = f"Invalid value at '{path}' ({_SCALAR_TYPES[kind]}), {_show(value)}"
        if kind == "string":
            if isinstance(value, str):
                return value
        elif kind == "bool":
            if isinstance(value, bool):
                return value
        elif kind in ("int32", "int64"):
            number = _integer(value)
            if number is not None and (kind == "int64" or _INT32[0] <= number <= _INT32[1]):
                return number
        elif kind == "float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        elif kind == "bytes":
            if isinstance(value, str) and _BASE64.match(value) and _decodes(value):
                return value
            if isinstance(value, str):
                bad = f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for {_show(value)}"
        self.fail(path, bad)
        return None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _decodes(text: str) -> bool:
    padded = text + "=" * (-len(text) % 4)
    try:
        base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def read_message(name: str, body: Any, path: str = "") -> dict[str, Any]:
    """``body`` read as message ``name``: camelCase keys, nulls dropped; raises 400 on any violation.

    Examples
    --------
    >>> read_message("ThinkingConfig", {"thinking_budget": 0})
    {'thinkingBudget': 0}
    """
    reader = _Reader()
    out = reader.message(name, body, path)
    if reader.problems:
        raise ApiError(
            400,
            "\n".join(message for _, message in reader.problems),
            details=[
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [
                        ({"field": where} if where else {}) | {"description": message}
                        for where, message in reader.problems
                    ],
                }
            ],
        )
    return out if isinstance(out, dict) else {}
