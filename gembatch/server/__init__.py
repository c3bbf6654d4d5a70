"""The REST API (FastAPI) over gembatch runs: ``gembatch serve`` or :func:`create_app`."""

from __future__ import annotations

from gembatch.server._app import create_app
from gembatch.server._auth import TOKEN_ENV, resolve_token

__all__ = ["TOKEN_ENV", "create_app", "resolve_token"]
