"""Emulated time: emulated seconds = real seconds × speed, continuing across restarts.

Everything the emulated service decides in time — when a job starts and ends, when its output is
available, how long a 429 asks the client to wait — is read from this clock, never from how fast
the machine happens to generate output, so a seed gives the same timeline on a busy or idle machine.
``speed=0`` is a manual clock: only :meth:`Clock.advance` moves it (benchmarks, exact tests).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from typing import Any

__all__ = ["Clock", "live_clock", "register_live", "rfc3339"]

_LIVE: dict[str, Clock] = {}  # base URL → clock of an emulator serving in this process


class Clock:
    """A clock running ``speed`` times faster than the wall clock.

    The anchor (a real and an emulated instant) is saved with the state, so a restarted
    emulator finds that emulated time kept passing while it was down.
    """

    def __init__(
        self, speed: float = 600.0, anchor_real: float | None = None, anchor_emulated: float | None = None
    ):
        if speed < 0:
            raise ValueError(f"speed must be >= 0 (0: a manual clock), not {speed!r}")
        real = time.time() if anchor_real is None else anchor_real
        self._lock = threading.Lock()
        self.speed = float(speed)
        self.anchor_real = real
        if anchor_emulated is None:  # a manual clock starts on a whole second: offsets stay exact
            anchor_emulated = real if speed else float(math.floor(real))
        self.anchor_emulated = anchor_emulated

    def now(self) -> float:
        """Emulated UNIX seconds."""
        return self.anchor_emulated + (time.time() - self.anchor_real) * self.speed

    def advance(self, seconds: float) -> float:
        """Jump forward ``seconds`` of emulated time (tests, demos); returns the new now."""
        with self._lock:
            self.anchor_emulated += float(seconds)
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on, keeping emulated time continuous."""
        with self._lock:
            now_real = time.time()
            self.anchor_emulated += (now_real - self.anchor_real) * self.speed
            self.anchor_real = now_real
            self.speed = float(speed)

    def real_seconds(self, emulated_seconds: float) -> float:
        """Wall-clock seconds until ``emulated_seconds`` have passed (0 on a manual clock: the
        next :meth:`advance` may already have passed them)."""
        return emulated_seconds / self.speed if self.speed else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"speed": self.speed, "anchor_real": self.anchor_real, "anchor_emulated": self.anchor_emulated}

    @classmethod
    def from_dict(cls, data: dict[str, Any], speed: float | None = None) -> Clock:
        clock = cls(float(data["speed"]), float(data["anchor_real"]), float(data["anchor_emulated"]))
        if speed is not None and float(speed) != clock.speed:
            clock.set_speed(speed)
        return clock


def rfc3339(seconds: float) -> str:
    """``2026-11-28T15:22:42.123456Z`` for emulated UNIX seconds."""
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def register_live(base_url: str, clock: Clock | None) -> None:
    """Note (or, with ``None``, forget) the clock of an in-process emulator serving at ``base_url``."""
    if clock is None:
        _LIVE.pop(base_url.rstrip("/"), None)
    else:
        _LIVE[base_url.rstrip("/")] = clock


def live_clock(base_url: str) -> Clock | None:
    """The clock of the in-process emulator at ``base_url``, if there is one."""
    return _LIVE.get(base_url.rstrip("/"))
