"""The backend a CLI command uses for a run directory.

With a key (environment or ``.env``) or ``$GEMBATCH_EMULATOR_URL``: :func:`gembatch.connect`'s
choice. Without either, an emulator embedded in this process that keeps its jobs, files and clock
in ``RUN_DIR/.emulator`` (as the runbook does), so ``gembatch run --no-wait`` followed by
``gembatch resume`` in another process finds the same jobs instead of resubmitting them.
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


def run_client(run_dir: str | os.PathLike[str]) -> Any:
    """The client for a run in ``run_dir``; ``None`` means :func:`gembatch.connect`'s choice."""
    from gembatch.transport.connect import EMULATOR_URL_VAR, local_emulator
    from gembatch.transport.credentials import key_from_env

    if key_from_env()[0] or os.environ.get(EMULATOR_URL_VAR, "").strip():
        return None
    state = Path(run_dir) / EMULATOR_STATE
    transport = local_emulator(state_dir=state, speed=_speed())
    print(
        f"gembatch: no GEMINI_API_KEY found; using a local Gemini emulator whose jobs are kept in "
        f"{state} (results are emulated, not produced by Gemini)",
        file=sys.stderr,
    )
    return transport
