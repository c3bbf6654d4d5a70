"""What a driver is: one protocol for moving a run forward (batch jobs, real-time requests, …)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from gembatch.runs.context import Context

__all__ = ["Driver", "StepReport"]


@dataclass(frozen=True)
class StepReport:
    """What one :meth:`Run.step` did."""

    submitted: int
    finished: int
    collected: int
    done: bool


class Driver(Protocol):
    """Moves a run forward; every decision goes through the run's store, so any driver may resume
    what another left."""

    mode: str

    def step(self, ctx: Context) -> StepReport:
        """One bounded slice of work."""
        ...

    def wait(self, ctx: Context, *, timeout: float | None, progress: bool, stop: threading.Event) -> bool:
        """Drive until the run is done (True), ``timeout`` seconds pass or ``stop`` is set (False)."""
        ...
