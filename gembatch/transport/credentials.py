"""The Gemini API key (environment or ``.env``, never logged) and the SDK client made with it."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google import genai

__all__ = ["KEY_VARS", "gemini_client", "key_from_env"]

KEY_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")


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

    options = types.HttpOptions(api_version=api_version, base_url=base_url)
    return genai.Client(api_key=api_key, http_options=options)
