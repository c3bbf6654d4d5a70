"""Normalise request JSON to camelCase keys, as the real proto-JSON parser accepts both spellings."""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["camel", "normalize"]

# Maps whose keys are user data: kept exactly (and their values left alone).
_OPAQUE = frozenset({"metadata", "labels"})
# Maps whose keys are user names but whose values are schemas to normalise.
_NAMED = frozenset({"properties", "$defs", "definitions", "patternProperties"})


@functools.lru_cache(maxsize=1024)
def camel(name: str) -> str:
    """``thinking_budget`` → ``thinkingBudget``; camelCase names pass through."""
    if "_" not in name or name.startswith("_"):
        return name
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def normalize(value: Any, *, _named: bool = False) -> Any:
    """A copy of ``value`` with every key in camelCase, except user-named keys.

    Examples
    --------
    >>> normalize({"generation_config": {"response_schema": {"properties": {"my_field": {}}}}})
    {'generationConfig': {'responseSchema': {'properties': {'my_field': {}}}}}
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if _named:
                out[key] = normalize(item)
                continue
            name = camel(key) if isinstance(key, str) else key
            if name in _OPAQUE:
                out[name] = item
            else:
                out[name] = normalize(item, _named=name in _NAMED)
        return out
    if isinstance(value, list):
        return [normalize(item) for item in value]
    return value
