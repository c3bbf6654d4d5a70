"""Drivers by run mode: ``batch`` (the Batch API) and ``realtime`` (generateContent under RPM/TPM)."""

from __future__ import annotations

from gembatch.errors import InputError
from gembatch.runs.drivers.base import Driver, StepReport
from gembatch.runs.drivers.batch import BatchDriver
from gembatch.runs.drivers.realtime import RealtimeDriver

__all__ = ["Driver", "StepReport", "driver_for", "modes", "register_driver"]

_DRIVERS: dict[str, Driver] = {"batch": BatchDriver(), "realtime": RealtimeDriver()}


def register_driver(driver: Driver) -> None:
    """Make runs whose ``mode`` is ``driver.mode`` use ``driver``."""
    _DRIVERS[driver.mode] = driver


def modes() -> list[str]:
    return sorted(_DRIVERS)


def driver_for(mode: str) -> Driver:
    """The driver of ``mode``; :class:`~gembatch.InputError` naming the known modes otherwise."""
    try:
        return _DRIVERS[mode]
    except KeyError:
        raise InputError(f"mode must be one of {', '.join(repr(m) for m in modes())}, not {mode!r}") from None
