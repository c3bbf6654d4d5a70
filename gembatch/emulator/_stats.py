"""Counters the admin view reports: requests, 429s, jobs per display name, enqueued tokens."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Stats"]

_TIMELINE_MAX = 100_000


class Stats:
    """Thread-safe counters; enqueued tokens are set by the batch service."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.created_by_display_name: Counter[str] = Counter()
        self.enqueued: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.timeline: list[tuple[float, str, int]] = []

    def request(self, op: str) -> None:
        with self._lock:
            self.requests[op] += 1

    def status(self, code: int) -> None:
        with self._lock:
            self.statuses[code] += 1

    def created(self, display_name: str | None) -> None:
        with self._lock:
            self.created_by_display_name[display_name or ""] += 1

    def set_enqueued(self, when: float, model: str, tokens: int) -> None:
        with self._lock:
            self.enqueued[model] = tokens
            self.peak[model] = max(self.peak.get(model, 0), tokens)
            if len(self.timeline) < _TIMELINE_MAX:
                self.timeline.append((round(when, 3), model, tokens))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "batches_created_by_display_name": dict(self.created_by_display_name),
                "enqueued_tokens": dict(self.enqueued),
                "peak_enqueued_tokens": dict(self.peak),
                "enqueued_timeline": [list(e) for e in sorted(self.timeline, key=lambda e: e[0])],
                "requests": dict(self.requests),
                "responses_429": self.statuses.get(429, 0),
                "responses_by_status": {str(k): v for k, v in sorted(self.statuses.items())},
            }
