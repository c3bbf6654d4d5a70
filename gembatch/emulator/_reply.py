"""What handlers take and return: a routed :class:`Call`, a :class:`Reply`, and body helpers."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gembatch.emulator._errors import ApiError, invalid
from gembatch.emulator._routes import Route

__all__ = ["Call", "Reply", "int_param", "json_body", "page_token", "read_page_token"]


@dataclass
class Reply:
    """One HTTP reply; ``body`` may be a file path (streamed), ``chunks`` a streamed sequence."""

    status: int = 200
    body: bytes | Path = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=UTF-8"
    disconnect: bool = False
    chunks: list[bytes] | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data, ensure_ascii=False).encode(), dict(headers or {}))


@dataclass(frozen=True)
class Call:
    """One routed request as the handlers see it."""

    route: Route
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    project: str = "default"  # the project of the caller's API key

    @property
    def params(self) -> dict[str, str]:
        return self.route.params

    @property
    def version(self) -> str:
        return self.route.version


def json_body(body: bytes) -> dict[str, Any]:
    """A request body as a JSON object (an empty body is ``{}``), or the service's 400."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at position {exc.pos}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(400, f"Invalid JSON payload received. {getattr(exc, 'msg', exc)}{where}.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected an object.")
    return data


def int_param(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid(name, f"must be an integer, not {value!r}") from None


def page_token(kind: str, cursor: str) -> str:
    """An opaque page token holding a cursor (the last item listed), not an offset."""
    return base64.urlsafe_b64encode(f"{kind}:{cursor}".encode()).decode().rstrip("=")


def read_page_token(kind: str, token: str) -> str:
    """The cursor in a token made by :func:`page_token` for ``kind``, or the service's 400."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith(kind + ":"):
        raise ApiError(400, "Invalid page token.")
    return raw[len(kind) + 1 :]
