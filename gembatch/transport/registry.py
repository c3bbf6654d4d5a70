"""Backends by name (``gemini``, ``emulator``, …): built in, registered at run time, or from entry points.

A package adds a backend with an entry point in the ``gembatch.backends`` group whose object is a
zero-argument function that calls :func:`register_backend` (the gembatch emulator registers itself
this way; the library never imports it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from gembatch.errors import BackendError
from gembatch.transport.base import Transport

__all__ = ["ENTRY_POINT_GROUP", "adopters", "backend_names", "get_backend", "register_backend"]

ENTRY_POINT_GROUP = "gembatch.backends"

#: ``factory(**options) -> Transport``
BackendFactory = Callable[..., Transport]
#: ``adopt(client) -> Transport | None``: claim a raw SDK client that talks to this backend.
Adopter = Callable[[Any], "Transport | None"]

_lock = threading.RLock()
_factories: dict[str, BackendFactory] = {}
_adopters: dict[str, Adopter] = {}
_loaded: set[str] = set()
_scanned: set[str] = set()  # holds "*" once every entry point of the group has been loaded


def _gemini(*, client: Any = None, **options: Any) -> Transport:
    from gembatch.transport.gemini import GeminiTransport

    if client is None:
        from gembatch.transport.credentials import gemini_client, key_from_env

        key = options.pop("api_key", None) or key_from_env()[0]
        if not key:
            raise BackendError(
                "no Gemini API key found: set GEMINI_API_KEY in the environment or a .env file"
            )
        client = gemini_client(key, options.pop("base_url", None))
    return GeminiTransport(client, **options)


def register_backend(name: str, factory: BackendFactory, *, adopt: Adopter | None = None) -> None:
    """Make ``get_backend(name, **options)`` call ``factory(**options)``; a later call replaces it.

    ``adopt`` (optional) lets :func:`as_transport` recognise a raw SDK client made for this backend.
    """
    with _lock:
        _factories[name] = factory
        if adopt is not None:
            _adopters[name] = adopt


def _load_entry_points(name: str | None = None) -> None:
    if "*" in _scanned:
        return
    if name is None:
        _scanned.add("*")
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _loaded or (name is not None and ep.name != name):
            continue
        _loaded.add(ep.name)
        try:
            hook = ep.load()
        except Exception as exc:  # name the broken plug-in rather than fail somewhere later
            raise BackendError(f"backend {ep.name!r} ({ep.value}) cannot be loaded: {exc}") from exc
        hook()


def backend_names() -> list[str]:
    """Every backend name known now (built in, registered, or offered by an installed package)."""
    with _lock:
        _load_entry_points()
        return sorted(_factories)


def get_backend(name: str, **options: Any) -> Transport:
    """A transport for backend ``name`` (``options`` go to its factory).

    Raises :class:`~gembatch.BackendError` naming the known backends when ``name`` is unknown.
    """
    with _lock:
        if name not in _factories:
            _load_entry_points(name)
        factory = _factories.get(name)
    if factory is None:
        known = ", ".join(backend_names())
        raise BackendError(
            f"no gembatch backend named {name!r}; known: {known}. Packages add backends through the "
            f"{ENTRY_POINT_GROUP!r} entry point: if you expected this one, (re)install the package that "
            "provides it (from a gembatch checkout: pip install -e .)"
        )
    return factory(**options)


def adopters() -> list[Adopter]:
    """The registered ``adopt`` hooks (entry points loaded first)."""
    with _lock:
        _load_entry_points()
        return list(_adopters.values())


def _vertex(**options: Any) -> Transport:
    from gembatch.transport.vertex_connect import create

    return create(**options)


register_backend("gemini", _gemini)
register_backend("vertex", _vertex)
