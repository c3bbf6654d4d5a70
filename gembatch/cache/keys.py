"""Cache keys: a stable fingerprint of the backend, the model and the full request (never the article id)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from gembatch.inputs.request_lines import RequestSpec

__all__ = [
    "CACHE_DIR_VAR", "CACHE_FILE", "default_cache_dir", "request_key", "resolve_cache_dir", "spec_keys",
]  # fmt: skip

#: Environment variable naming the cache directory (``off`` turns the cache off).
CACHE_DIR_VAR = "GEMBATCH_CACHE_DIR"
#: The database inside the cache directory.
CACHE_FILE = "responses.sqlite"
# Bumped when the key recipe changes, so an old entry can never answer a differently built request.
_KEY_VERSION = "1"
_encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
_BLOCK = 512


def _split(request: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(the user text, the request with that text emptied) for a one-part request; else ("", request).

    The key hashes the request's canonical JSON without its one big text, then the text itself:
    the same information as the whole request, without JSON-escaping megabytes of articles.
    """
    contents = request.get("contents")
    if isinstance(contents, list) and len(contents) == 1 and isinstance(contents[0], Mapping):
        parts = contents[0].get("parts")
        if isinstance(parts, list) and len(parts) == 1 and isinstance(parts[0], Mapping):
            text = parts[0].get("text")
            if isinstance(text, str) and set(parts[0]) == {"text"}:
                skeleton = copy.deepcopy(dict(request))
                skeleton["contents"][0]["parts"][0]["text"] = ""
                return text, skeleton
    return "", request


def _seed(backend: str, model: str, skeleton: Mapping[str, Any]) -> Any:
    h = hashlib.sha256()
    for part in (_KEY_VERSION, backend, model.removeprefix("models/"), _encode(skeleton)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h


def request_key(backend: str, model: str, request: Mapping[str, Any]) -> str:
    """The cache key of one request: SHA-256 of the backend kind, the model and the whole request.

    The request carries the contents, the system instruction and the generation config (the
    response schema included), so any change to them is another key; the article id is not part of
    it, so the same text asked the same way under another id (or in another run) is the same key.

    Examples
    --------
    >>> body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    >>> model = "gemini-3.5-flash-lite"
    >>> request_key("emulator", model, body) == request_key("gemini", model, body)
    False
    """
    text, skeleton = _split(request)
    h = _seed(backend, model, skeleton)
    h.update(text.encode("utf-8", "surrogatepass"))
    return str(h.hexdigest())


def spec_keys(articles: pd.DataFrame, spec: RequestSpec, backend: str) -> list[str]:
    """:func:`request_key` of the request ``spec`` makes of each article, in order, without building them.

    The template's literal pieces and the article's columns are hashed one after the other, which
    is exactly the hash of the rendered text (UTF-8 is a concatenation of its pieces).
    """
    from gembatch.inputs.prompts import as_text

    template = spec.template
    template.check_columns(articles.columns)
    sample = spec.build_request(defaultdict(str))  # every article's request has this shape
    _, skeleton = _split(sample)
    if skeleton is sample:  # not one text part: build and hash each request whole
        from gembatch.inputs.request_lines import iter_request_lines

        lines = iter_request_lines(articles, spec)
        return [request_key(backend, spec.model, line["request"]) for line in lines]
    seed = _seed(backend, spec.model, skeleton)
    pieces = [(kind == "field", value if kind == "field" else value.encode("utf-8", "surrogatepass"))
              for kind, value in template.pieces()]  # fmt: skip
    names = list(dict.fromkeys(v for is_field, v in pieces if is_field))

    def block_keys(start: int) -> list[str]:
        block = articles.iloc[start : start + _BLOCK]
        columns = {name: block[name].tolist() for name in names}
        out: list[str] = []
        for i in range(len(block)):
            h = seed.copy()
            for is_field, value in pieces:
                if is_field:
                    h.update(as_text(columns[value][i]).encode("utf-8", "surrogatepass"))
                else:
                    h.update(value)
            out.append(h.hexdigest())
        return out

    starts = range(0, len(articles), _BLOCK)
    if len(starts) < 2:
        return [k for s in starts for k in block_keys(s)]
    # hashlib releases the GIL while it hashes a long text: the blocks hash in parallel
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return [k for keys in pool.map(block_keys, starts) for k in keys]


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
