"""Helpers for the real-time tests: a short rate window in the emulator and the limiter, small limits."""

from __future__ import annotations

from typing import Any

from runs_support import read_ledger

import gembatch as gb

MODEL = "gemini-2.5-flash-lite"
#: The service's RPM/TPM window is a minute of wall time, in the emulator too. The tests shrink
#: it (in the emulator and in the limiter alike) so a run spans several windows in seconds.
WINDOW_S = 2.0
#: Exact accounting (a request counts until it completes): under a burst the in-process emulator
#: may take a while to read a request, so the default 2 s arrival margin would not fit a 2 s window.
OPTIONS: dict[str, Any] = {"window_s": WINDOW_S, "arrival_margin_s": None}


#: The emulator profile whose RPM/TPM window is WINDOW_S wall-clock seconds (the service's is 60).
SHORT_WINDOW: dict[str, Any] = {"rate_window_s": WINDOW_S}


def catalog(rpm: int, tpm: int, quota: int | None = None) -> gb.Catalog:
    entry: dict[str, Any] = {"rpm": {"tier1": rpm}, "tpm": {"tier1": tpm}}
    if quota is not None:
        entry["enqueued_tokens"] = {"tier1": quota}
    return gb.load_catalog({MODEL: entry})


def articles(n: int, mean_chars: int = 500, seed: int = 0) -> Any:
    return gb.read_articles(gb.synthetic_articles(n, mean_chars=mean_chars, seed=seed), id_col="id")


def result_rows(run: gb.Run) -> list[Any]:
    return read_ledger(run, "SELECT article_id, chunk_id, attempt, status, cost_usd FROM results")


def unique_requests(run: gb.Run) -> int:
    return run.store.unique_requests()
