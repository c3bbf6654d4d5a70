"""The Gemini API key (environment or ``.env``, never logged) and the SDK client made with it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from google import genai

__all__ = ["KEY_VARS", "gemini_client", "key_from_env", "loopback_http_args"]

KEY_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def loopback_http_args(base_url: str | None) -> dict[str, Any]:
    """``HttpOptions`` arguments that keep a loopback endpoint away from any proxy.

    httpx (the SDK's client) honours ``HTTP(S)_PROXY`` even for 127.0.0.1 unless ``NO_PROXY``
    says otherwise; a local emulator is never behind a proxy, so its clients ignore the
    environment's proxy settings (``trust_env=False``). Other endpoints: no change.

    >>> loopback_http_args("http://127.0.0.1:8080")["client_args"]
    {'trust_env': False}
    >>> loopback_http_args("https://generativelanguage.googleapis.com")
    {}
    """
    host = urlsplit(base_url or "").hostname or ""
    if host not in _LOOPBACK:
        return {}
    return {"client_args": {"trust_env": False}, "async_client_args": {"trust_env": False}}


def key_from_env() -> tuple[str | None, str | None]:
    """(key, where it came from): the environment first, then a ``.env`` file (read, not exported)."""
    for var in KEY_VARS:
        value = os.environ.get(var, "").strip()
        if value:
            return value, f"${var}"
    from dotenv import dotenv_values, find_dotenv

    path = find_dotenv(usecwd=True)
    if path:
        values = dotenv_values(path)
        for var in KEY_VARS:
            value = (values.get(var) or "").strip()
            if value:
                return value, f"{var} in .env"
    return None, None


def gemini_client(api_key: str, base_url: str | None = None, api_version: str = "v1beta") -> genai.Client:
    """A ``google.genai.Client`` for the Developer API (or a proxy of it at ``base_url``)."""
    from google import genai
    from google.genai import types

    options = types.HttpOptions(api_version=api_version, base_url=base_url, **loopback_http_args(base_url))
    return genai.Client(api_key=api_key, http_options=options)
