"""The backend a run records at creation, and how a reopened run finds it again (or refuses another)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gembatch.errors import RunMismatch
from gembatch.runs.config import LEDGER_FILE, RunConfig
from gembatch.transport.base import Transport
from gembatch.transport.connect import as_transport, connection_of, reconnect

__all__ = [
    "check_backend", "check_backend_name", "family", "recorded", "reopen_client", "resolve", "transport_for",
]  # fmt: skip

_DEVELOPER = ("gemini", "emulator")  # one service, one job namespace: either reopens the other's runs
_WHERE = ("project", "location", "bucket")  # a Vertex run's jobs and objects are found only there


def family(backend: str | None) -> str:
    """``developer`` for the Gemini Developer API and its emulator, else the backend's own name."""
    return "developer" if not backend or backend in _DEVELOPER else str(backend)


def recorded(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The backend facts a run directory's ledger holds ({}: no run there, or an older run).

    A missing, empty or damaged ledger is left exactly as it is (opening the run says what is wrong).
    """
    from gembatch.errors import GembatchError
    from gembatch.runs.guard import open_existing

    if not (Path(run_dir) / LEDGER_FILE).is_file():
        return {}
    try:
        existing = open_existing(Path(run_dir))
    except GembatchError:
        return {}
    if existing is None:
        return {}
    store, stored = existing
    store.close()
    return dict(RunConfig.from_dict(stored).backend)


def _label(facts: dict[str, Any]) -> str:
    where = "/".join(str(facts[k]) for k in _WHERE if facts.get(k))
    return f"{facts.get('backend', 'gemini')}" + (f" ({where})" if where else "")


def _refuse(facts: dict[str, Any], now: dict[str, Any], run_dir: str | os.PathLike[str]) -> None:
    raise RunMismatch(
        f"{run_dir} was created on the {_label(facts)} backend, not {_label(now)}: reopen it without a "
        f"client or backend flags and it reconnects to {facts.get('backend')} by itself"
    )


def _same_backend(have: str | None, now: str | None) -> bool:
    if family(have) != family(now):
        return False
    return family(have) == "developer" or have == now


def check_backend_name(facts: dict[str, Any], backend: str, run_dir: str | os.PathLike[str]) -> None:
    """Raise :class:`~gembatch.RunMismatch` when the run that recorded ``facts`` is not on ``backend``
    (before anything connects to it)."""
    if facts and not _same_backend(facts.get("backend"), backend):
        _refuse(facts, {"backend": backend}, run_dir)


def check_backend(facts: dict[str, Any], transport: Transport, run_dir: str | os.PathLike[str]) -> None:
    """Raise :class:`~gembatch.RunMismatch` when ``transport`` cannot reach the jobs of the run that
    recorded ``facts`` (another backend, or another Vertex project, location or bucket)."""
    if not facts:
        return  # an older run: it recorded nothing, the caller's choice stands (as before)
    now = connection_of(transport)
    same = _same_backend(facts.get("backend"), now.get("backend"))
    if same and family(facts.get("backend")) != "developer":
        same = not any(facts.get(k) and now.get(k) and facts[k] != now[k] for k in _WHERE)
    if not same:
        _refuse(facts, now, run_dir)


def transport_for(run_dir: str | os.PathLike[str], facts: dict[str, Any], client: Any) -> Transport | None:
    """The transport to reopen a run with: ``client``'s (checked against ``facts``), the recorded
    backend's when no client is given and it is not the Developer API, else ``None`` (decided later)."""
    if client is None:
        return reconnect(facts) if family(facts.get("backend")) != "developer" else None
    transport = as_transport(client)
    check_backend(facts, transport, run_dir)
    return transport


def resolve(client: Any, facts: dict[str, Any]) -> Transport:
    """The live transport of a run: ``client``'s, else the recorded backend's (Developer API:
    :func:`gembatch.connect`'s choice, as for runs that recorded nothing)."""
    if client is None and family(facts.get("backend")) != "developer":
        return reconnect(facts)
    return as_transport(client)


def reopen_client(run_dir: str | os.PathLike[str], default: Any) -> Any:
    """``default`` when it serves the run in ``run_dir`` (or no run is there), else ``None``: the
    run reconnects to the backend it recorded. For faces that hold one default client (CLI, server)."""
    facts = recorded(run_dir)
    if not facts or default is None:
        return default
    try:
        check_backend(facts, as_transport(default), run_dir)
    except RunMismatch:
        return None
    return default
