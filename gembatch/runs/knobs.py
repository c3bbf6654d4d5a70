"""Checking a run's operational settings (the keyword options of ``Run.create`` and ``Run.open``)."""

from __future__ import annotations

from typing import Any

from gembatch.errors import InputError
from gembatch.runs.config import RunConfig
from gembatch.runs.drivers.realtime import check_options
from gembatch.transport.base import Timings, Transport

__all__ = ["check_knobs", "timing_knobs"]


def check_knobs(knobs: dict[str, Any]) -> None:
    unknown = set(knobs) - set(RunConfig.OPERATIONAL)
    if unknown:
        known = ", ".join(RunConfig.OPERATIONAL)
        raise TypeError(f"unknown run option(s): {', '.join(sorted(unknown))}; known: {known}")
    if "mode" in knobs or "realtime" in knobs:
        check_options(knobs.get("mode"), knobs.get("realtime"))
    q = knobs.get("hedge_quantile")
    if q is not None and (isinstance(q, bool) or not isinstance(q, int | float) or not 0 < q < 1):
        raise InputError(
            f"hedge_quantile must be a number between 0 and 1 (or None: no hedging), not {q!r}",
            field="hedge_quantile",
        )


def timing_knobs(transport: Transport) -> dict[str, float]:
    """The backend's poll timings, when they differ from the defaults (e.g. the emulator's)."""
    timings = transport.timings
    return {} if timings == Timings() else timings.as_options()
