"""Connect to Gemini through google-genai: the real service with a key, else the local emulator."""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

from gembatch.errors import BackendError

if TYPE_CHECKING:
    from google import genai

    from gembatch.emulator import Emulator

__all__ = ["API_VERSION", "connect", "describe", "get_batch_raw", "is_emulator", "iter_batches_raw"]

logger = logging.getLogger("gembatch.transport.connect")

API_VERSION = "v1beta"
KEY_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
EMULATOR_URL_VAR = "GEMBATCH_EMULATOR_URL"
EMULATOR_KEY = "emulator"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_lock = threading.Lock()
# The one in-process emulator of this process, and whether the user was told about it.
_state: dict[str, Any] = {"emulator": None, "announced": False}


def _key_from_env() -> tuple[str | None, str | None]:
    """(key, where it came from): the environment first, then a ``.env`` file (not exported)."""
    for var in KEY_VARS:
        value = os.environ.get(var, "").strip()
        if value:
            return value, f"${var}"
    try:
        from dotenv import dotenv_values, find_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a dependency
        return None, None
    path = find_dotenv(usecwd=True)
    if path:
        values = dotenv_values(path)
        for var in KEY_VARS:
            value = (values.get(var) or "").strip()
            if value:
                return value, f"{var} in .env"
    return None, None


def _client(api_key: str, base_url: str | None) -> genai.Client:
    from google import genai
    from google.genai import types

    options = types.HttpOptions(api_version=API_VERSION, base_url=base_url) if base_url else None
    options = options or types.HttpOptions(api_version=API_VERSION)
    return genai.Client(api_key=api_key, http_options=options)


def shared_emulator() -> Emulator:
    """The in-process emulator of this process, started on first use and reused."""
    with _lock:
        if _state["emulator"] is None:
            from gembatch.emulator import Emulator

            emulator = Emulator().start()
            atexit.register(emulator.stop)  # removes its temporary state directory
            _state["emulator"] = emulator
        emu: Emulator = _state["emulator"]
        return emu


def _announce(url: str) -> None:
    logger.info("gembatch: using the Gemini emulator at %s; results are emulated", url)
    if not _state["announced"]:
        _state["announced"] = True
        print(
            f"gembatch: no GEMINI_API_KEY found; using the local Gemini emulator at {url}. "
            "Results are emulated, not produced by Gemini."
        )


def connect(
    api_key: str | None = None,
    *,
    base_url: str | None = None,
    prefer: Literal["real", "emulator"] | None = None,
) -> genai.Client:
    """A ``google.genai.Client`` (API version v1beta) for the real service or the emulator.

    Parameters
    ----------
    api_key
        The Gemini API key. Default: ``$GEMINI_API_KEY``, ``$GOOGLE_API_KEY``, or the same names in
        a ``.env`` file found from the working directory upwards (read, not exported).
    base_url
        Endpoint override: with a key, a proxy of the real service; without one, an emulator URL.
    prefer
        ``"emulator"`` ignores any key; ``"real"`` raises :class:`BackendError` when no key is found.
        Default: the real service when a key is found, else ``$GEMBATCH_EMULATOR_URL``, else an
        in-process emulator started once per process.

    Examples
    --------
    >>> client = connect(prefer="emulator")  # doctest: +SKIP
    >>> describe(client)  # doctest: +SKIP
    'Gemini emulator at http://127.0.0.1:40123 (v1beta); results are emulated'
    """
    if prefer not in (None, "real", "emulator"):
        raise BackendError(f"prefer must be 'real', 'emulator' or None, not {prefer!r}")
    source: str | None = "argument"
    if api_key is None and prefer != "emulator":
        api_key, source = _key_from_env()
    if prefer == "emulator":
        api_key = None
    if api_key:
        client = _client(api_key, base_url)
        logger.info("gembatch: using the Gemini API at %s (key from %s)", _base_url(client), source)
        return client
    if prefer == "real":
        raise BackendError(
            "no Gemini API key found: set GEMINI_API_KEY in the environment or in a .env file, "
            "or pass api_key=...; use prefer='emulator' to rehearse locally"
        )
    url = base_url or os.environ.get(EMULATOR_URL_VAR, "").strip() or None
    if url is None:
        url = shared_emulator().base_url
    url = url.rstrip("/")
    _announce(url)
    return _client(EMULATOR_KEY, url)


def _base_url(client: Any) -> str:
    options = getattr(getattr(client, "_api_client", None), "_http_options", None)
    url = getattr(options, "base_url", None)
    return str(url or "https://generativelanguage.googleapis.com/")


def _api_version(client: Any) -> str:
    options = getattr(getattr(client, "_api_client", None), "_http_options", None)
    return str(getattr(options, "api_version", None) or API_VERSION)


def is_emulator(client: Any) -> bool:
    """True when ``client`` talks to a local (loopback) endpoint such as the gembatch emulator."""
    host = urlsplit(_base_url(client)).hostname or ""
    return host in _LOOPBACK


def describe(client: Any) -> str:
    """One line saying where ``client`` sends requests; never contains the API key."""
    url = _base_url(client).rstrip("/")
    if is_emulator(client):
        return f"Gemini emulator at {url} ({_api_version(client)}); results are emulated"
    return f"Gemini API at {url} ({_api_version(client)})"


def _raw_get(client: Any, path: str) -> dict[str, Any]:
    response = client._api_client.request("get", path, {})
    body = response.body or "{}"
    data = json.loads(body)
    return data if isinstance(data, dict) else {}


def get_batch_raw(client: Any, name: str) -> dict[str, Any]:
    """The raw batch Operation JSON, including ``metadata.batchStats`` (which the SDK drops).

    Errors are the SDK's (``google.genai.errors.ClientError`` / ``ServerError``).
    """
    if not name.startswith("batches/"):
        raise BackendError(f"a batch name looks like 'batches/<id>', not {name!r}")
    return _raw_get(client, name)


def iter_batches_raw(client: Any, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every batch as raw Operation JSON, following all pages of ``batches.list``."""
    token: str | None = None
    while True:
        path = f"batches?pageSize={int(page_size)}"
        if token:
            path += f"&pageToken={quote(token, safe='')}"
        page = _raw_get(client, path)
        yield from page.get("operations") or []
        token = page.get("nextPageToken")
        if not token:
            return
