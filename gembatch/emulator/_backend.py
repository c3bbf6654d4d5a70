"""The emulator as a gembatch backend: registered through the ``gembatch.backends`` entry point.

It owns the one registry of in-process emulators (one per speed, profile and state directory,
started on first use and stopped at exit) and the emulator's poll timings.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gembatch.emulator._admin import ADMIN_PREFIX
from gembatch.emulator._clock import live_clock
from gembatch.emulator._server import Emulator
from gembatch.errors import BackendError
from gembatch.transport.base import Timings
from gembatch.transport.credentials import gemini_client
from gembatch.transport.gemini import GeminiTransport
from gembatch.transport.registry import register_backend

__all__ = ["TIMINGS", "adopt", "create", "embedded", "register"]

#: Emulated hours pass in seconds: poll often, and believe a listing almost at once.
TIMINGS = Timings(poll_min_s=0.2, poll_max_s=2.0, reconcile_grace_s=0.5)
KEY = "emulator"  # the SDK wants a non-empty key; the emulator accepts any
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

_lock = threading.Lock()
_emulators: dict[tuple[Any, ...], Emulator] = {}
_transports: dict[str, GeminiTransport] = {}


def embedded(
    speed: float | None = None, profile: str | None = None, state_dir: str | os.PathLike[str] | None = None
) -> Emulator:
    """The in-process emulator for these settings, started once per process and reused."""
    key = (speed, profile, str(Path(state_dir).resolve()) if state_dir else None)
    with _lock:
        emu = _emulators.get(key)
        if emu is None:
            options: dict[str, Any] = {"speed": speed, "profile": profile, "state_dir": state_dir}
            emu = Emulator(**{k: v for k, v in options.items() if v is not None}).start()
            atexit.register(emu.stop)  # removes a temporary state directory
            _emulators[key] = emu
        return emu


def service_clock(base_url: str) -> Callable[[], float]:
    """The emulated "now" of the emulator at ``base_url``: its clock when it serves in this process,
    else asked of its admin endpoint (loopback), else the wall clock."""

    def now() -> float:
        clock = live_clock(base_url)
        if clock is not None:
            return clock.now()
        try:
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
            with direct.open(f"{base_url}{ADMIN_PREFIX}clock", timeout=5) as reply:
                return float(json.loads(reply.read())["emulated_seconds"])
        except (OSError, ValueError, KeyError):
            return time.time()

    return now


def _emulator_transport(client: Any, base_url: str) -> GeminiTransport:
    transport = GeminiTransport(client, name="emulator", timings=TIMINGS, emulated=True)
    transport.clock = service_clock(base_url)  # type: ignore[attr-defined]  # job ages, emulated
    return transport


def _transport(base_url: str, client: Any = None) -> GeminiTransport:
    if client is not None:
        return _emulator_transport(client, base_url)
    with _lock:
        transport = _transports.get(base_url)
        if transport is None:
            transport = _emulator_transport(gemini_client(KEY, base_url), base_url)
            _transports[base_url] = transport
        return transport


def create(
    *,
    base_url: str | None = None,
    speed: float | None = None,
    profile: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
) -> GeminiTransport:
    """A transport for the emulator at ``base_url``, or for the in-process one with these settings."""
    url = base_url or embedded(speed, profile, state_dir).base_url
    return _transport(url.rstrip("/"))


def adopt(client: Any) -> GeminiTransport | None:
    """Claim a google-genai client pointed at a loopback address: the emulator only serves there."""
    options = getattr(getattr(client, "_api_client", None), "_http_options", None)
    url = str(getattr(options, "base_url", None) or "")
    if (urlsplit(url).hostname or "") not in _LOOPBACK:
        return None
    return _transport(url.rstrip("/"), client)


def register() -> None:
    """The ``gembatch.backends`` entry point: make ``get_backend("emulator")`` available."""
    register_backend("emulator", create, adopt=adopt)
    register_backend("vertex-emulator", _vertex)


def _vertex(
    *,
    speed: float | None = None,
    profile: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Any:
    """``vertex-emulator``: the emulator at ``base_url``, ``$GEMBATCH_EMULATOR_URL`` or in this process."""
    from gembatch.emulator._vertex_backend import create_vertex, embedded_storage

    if not (options.get("storage_url") or os.environ.get("STORAGE_EMULATOR_HOST", "").strip()):
        # started before the in-process emulator, which reads $STORAGE_EMULATOR_HOST
        os.environ["STORAGE_EMULATOR_HOST"] = embedded_storage()
    url = options.pop("base_url", None) or os.environ.get("GEMBATCH_EMULATOR_URL", "").strip()
    if not url:
        url = embedded(speed, profile, state_dir).base_url
    elif options.get("dataset") and not (
        options.get("bigquery_url") or os.environ.get("BIGQUERY_EMULATOR_HOST", "").strip()
    ):  # a stand-in started here would hold tables the emulator at `url` never sees
        raise BackendError(
            f"the emulator at {url} reads its BigQuery tables from its own stand-in: set "
            "BIGQUERY_EMULATOR_HOST as `gembatch emulator start --vertex` printed it"
        )
    return create_vertex(base_url=url, timings=TIMINGS, **options)
