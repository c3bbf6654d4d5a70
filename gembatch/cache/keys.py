"""Cache keys: a stable fingerprint of the backend, the model and the full request (never the article id)."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["CACHE_DIR_VAR", "CACHE_FILE", "default_cache_dir", "request_key", "resolve_cache_dir"]

#: Environment variable naming the cache directory (``off`` turns the cache off).
CACHE_DIR_VAR = "GEMBATCH_CACHE_DIR"
#: The database inside the cache directory.
CACHE_FILE = "responses.sqlite"
# Bumped when the key recipe changes, so an old entry can never answer a differently built request.
_KEY_VERSION = "1"
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def request_key(backend: str, model: str, request: Mapping[str, Any]) -> str:
    """The cache key of one request: SHA-256 of the backend kind, the model and the canonical request JSON.

    The request carries the contents, the system instruction and the generation config (the
    response schema included), so any change to them is another key; the article id is not part of
    it, so the same text asked the same way under another id (or in another run) is the same key.

    Examples
    --------
    >>> a = request_key("emulator", "gemini-3.5-flash-lite", {"contents": [{"parts": [{"text": "Hi"}]}]})
    >>> a == request_key("gemini", "gemini-3.5-flash-lite", {"contents": [{"parts": [{"text": "Hi"}]}]})
    False
    """
    h = hashlib.sha256()
    for part in (_KEY_VERSION, backend, model.removeprefix("models/")):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(_encode(request).encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """The per-user cache directory (as platformdirs would choose it, without the dependency)."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "gembatch" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "gembatch"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gembatch"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The cache directory to use: ``cache_dir``, else ``$GEMBATCH_CACHE_DIR``, else the user's cache dir.

    ``None`` when ``$GEMBATCH_CACHE_DIR`` is ``off`` (and no ``cache_dir`` was given).
    """
    if cache_dir is not None and str(cache_dir).strip():
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_DIR_VAR, "").strip()
    if env.lower() in ("off", "0", "false", "no"):
        return None
    return Path(env).expanduser() if env else default_cache_dir()
