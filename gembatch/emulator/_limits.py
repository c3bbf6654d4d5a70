"""Sliding-window RPM/TPM limiters for real-time calls, with limits from the catalogue."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from gembatch.emulator._errors import quota_error
from gembatch.errors import CatalogError
from gembatch.planning.catalog import Catalog

__all__ = ["RateLimiter"]


class RateLimiter:
    """Requests and tokens per minute per model, over a real-time sliding window.

    Real-time calls are not sped up by the emulated clock, so their limits use wall time; the
    window (60 s on the service) comes from the profile's ``rate_window_s``.
    """

    def __init__(self, catalog: Catalog, tier: str, window_s: Callable[[], float] = lambda: 60.0):
        self.catalog = catalog
        self.tier = tier
        self._window_s = window_s
        self._lock = threading.Lock()
        self._events: dict[tuple[str, str], deque[tuple[float, int]]] = {}

    def check(self, model: str, tokens: int, project: str = "default") -> None:
        """Record one request of ``tokens`` prompt tokens, or raise 429 past RPM or TPM.

        Limits are per project and model, as on the service.
        """
        info = self.catalog.get(model)
        try:
            rpm, tpm = info.rate_limits(self.tier)
        except CatalogError:
            return
        now = time.monotonic()
        window = float(self._window_s())
        tier_label = self.tier.replace("tier", "Tier")
        with self._lock:
            events = self._events.setdefault((project, info.id), deque())
            while events and events[0][0] <= now - window:
                events.popleft()
            retry = (events[0][0] + window - now) if events else window
            if len(events) + 1 > rpm:
                raise quota_error(
                    "generate_content_paid_tier_requests"
                    if self.tier != "free"
                    else "generate_content_free_tier_requests",
                    f"GenerateRequestsPerMinutePerProjectPerModel-{tier_label}",
                    rpm,
                    info.id,
                    retry,
                )
            used = sum(t for _, t in events)
            if used + tokens > tpm:
                raise quota_error(
                    "generate_content_paid_tier_input_token_count",
                    f"GenerateContentInputTokensPerModelPerMinute-{tier_label}",
                    tpm,
                    info.id,
                    retry,
                )
            events.append((now, tokens))
