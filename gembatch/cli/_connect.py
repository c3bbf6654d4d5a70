"""The backend a CLI command uses for a run directory.

A run that recorded a backend other than the Developer API (Vertex, the Vertex emulator) reconnects
to it by itself: no flags needed. Otherwise, with a key (environment or ``.env``) or
``$GEMBATCH_EMULATOR_URL``: :func:`gembatch.connect`'s choice. Without either, an emulator embedded
in this process that keeps its jobs, files and clock in ``RUN_DIR/.emulator`` (as the runbook
does), so ``gembatch run --no-wait`` followed by ``gembatch resume`` in another process finds the
same jobs instead of resubmitting them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["EMULATOR_STATE", "SPEED_VAR", "run_client"]

EMULATOR_STATE = ".emulator"  # the runbook's name too: a run dir works from either
SPEED_VAR = "GEMBATCH_EMULATOR_SPEED"  # emulated seconds per real second of the embedded emulator


def _speed() -> float | None:
    raw = os.environ.get(SPEED_VAR, "").strip()
    if not raw:
        return None
    try:
        speed = float(raw)
    except ValueError:
        speed = 0.0
    if speed <= 0:
        from gembatch.errors import InputError

        raise InputError(f"{SPEED_VAR}={raw!r}: expected a positive number", field=SPEED_VAR)
    return speed


def run_client(run_dir: str | os.PathLike[str], backend: str | None = None) -> Any:
    """The client for a run in ``run_dir``; ``None`` means the backend the run recorded, else
    :func:`gembatch.connect`'s choice. ``backend="emulator"`` ignores any key."""
    from gembatch.runs.backend_record import family, recorded
    from gembatch.transport.connect import EMULATOR_URL_VAR, connect_transport, local_emulator
    from gembatch.transport.credentials import key_from_env

    if family(recorded(run_dir).get("backend")) != "developer":
        return None  # Vertex and other backends: the run reconnects to the one it recorded
    if os.environ.get(EMULATOR_URL_VAR, "").strip() and backend == "emulator":
        return connect_transport(prefer="emulator")
    if (key_from_env()[0] and backend != "emulator") or os.environ.get(EMULATOR_URL_VAR, "").strip():
        return None
    state = Path(run_dir) / EMULATOR_STATE
    transport = local_emulator(state_dir=state, speed=_speed())
    print(
        f"gembatch: no GEMINI_API_KEY found; using a local Gemini emulator whose jobs are kept in "
        f"{state} (results are emulated, not produced by Gemini)",
        file=sys.stderr,
    )
    return transport
