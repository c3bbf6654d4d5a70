"""Helpers shared by the emulator tests: small JSONL inputs and polling that never depends on timing."""

from __future__ import annotations

import json
import time
from typing import Any

from google import genai

from gembatch.emulator import Emulator

MODEL = "gemini-2.5-flash"
# Jobs wait ten emulated hours in PENDING (a minute of wall time at speed 600), so a test can act on
# a live job without racing the clock; wait_done() moves emulated time on when it wants the end.
SLOW = {"queue_median_s": 36_000.0, "queue_sigma": 0.0}


def request(text: str, **config: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if config:
        body["generationConfig"] = config
    return body


def jsonl(n: int, prefix: str = "k", **config: Any) -> bytes:
    lines = [
        json.dumps(
            {"key": f"{prefix}{i}", "request": request(f"Item {i}. The quick brown fox jumps.", **config)}
        )
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def wait_done(client: genai.Client, name: str, emu: Emulator, timeout: float = 60.0) -> Any:
    """Poll a batch until it is done, moving emulated time forward so no test waits on the clock."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.batches.get(name=name)
        if job.done:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {job.state} after {timeout}s")
        emu.advance(1800)
        time.sleep(0.02)


def raw(emu: Emulator, method: str, path: str, **kwargs: Any) -> Any:
    """A raw HTTP call to the emulator (for endpoints or shapes the SDK does not expose)."""
    import httpx

    headers = {"x-goog-api-key": "emulator", **kwargs.pop("headers", {})}
    return httpx.request(method, emu.base_url + path, headers=headers, timeout=30, **kwargs)
