"""The chunks and events DataFrames of a run (typed columns), read from its store."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from gembatch.runs.store import RunStore

__all__ = ["chunks_frame", "events_frame"]

_CHUNK_COLS = (
    "chunk_id", "wave", "attempt", "state", "remote_state", "batch_name", "display_name", "source",
    "articles", "est_input_tokens", "est_output_tokens", "est_cost_usd", "input_tokens", "output_tokens",
    "thoughts_tokens", "cost_usd", "succeeded", "failed", "retried", "create_tries", "blocked", "error",
    "input_file", "output_file", "created_at", "intent_at", "submitted_at", "finished_at", "collected_at",
)  # fmt: skip
_INTS = (
    "wave", "attempt", "articles", "est_input_tokens", "est_output_tokens", "input_tokens", "output_tokens",
    "thoughts_tokens", "succeeded", "failed", "retried", "create_tries",
)  # fmt: skip
_TIMES = ("created_at", "intent_at", "submitted_at", "finished_at", "collected_at")


def _times(values: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="Float64").astype("float64"), unit="s", utc=True)


def chunks_frame(ledger: RunStore) -> pd.DataFrame:
    """One row per chunk, index ``chunk_id``; counts are ``Int64``, times UTC datetimes."""
    rows = ledger.chunk_rows(_CHUNK_COLS)
    frame = pd.DataFrame([r[:-1] for r in rows], columns=list(_CHUNK_COLS))
    for col in _INTS:
        frame[col] = frame[col].astype("Int64")
    for col in ("est_cost_usd", "cost_usd"):
        frame[col] = frame[col].astype("Float64")
    for col in _TIMES:
        frame[col] = _times(frame[col]).to_numpy()
    # the raw batchStats of the last sweep (the SDK drops them): requests done remotely so far
    stats = [json.loads(r[-1]) if r[-1] else {} for r in rows]
    for col, key in (
        ("remote_requests", "requestCount"),
        ("remote_succeeded", "successfulRequestCount"),
        ("remote_failed", "failedRequestCount"),
        ("remote_pending", "pendingRequestCount"),
    ):
        frame[col] = pd.array([s.get(key, 0 if s else None) for s in stats], dtype="Int64")
    for col in set(_CHUNK_COLS) - set(_INTS) - set(_TIMES) - {"est_cost_usd", "cost_usd"}:
        frame[col] = frame[col].astype("string")
    return frame.set_index("chunk_id")


def events_frame(ledger: RunStore) -> pd.DataFrame:
    """The run's history, one row per event, for charts (enqueued tokens, committed spend, done counts)."""
    cols = [
        "time",
        "kind",
        "chunk_id",
        "message",
        "enqueued_tokens",
        "spend_usd",
        "actual_usd",
        "succeeded",
        "failed",
        "pending",
    ]
    frame = pd.DataFrame(ledger.event_rows(cols), columns=cols)
    frame["time"] = _times(frame["time"]).to_numpy()
    for col in ("kind", "chunk_id", "message"):
        frame[col] = frame[col].astype("string")
    for col in ("enqueued_tokens", "succeeded", "failed", "pending"):
        frame[col] = frame[col].astype("Int64")
    frame["spend_usd"] = frame["spend_usd"].astype("Float64")
    frame["actual_usd"] = frame["actual_usd"].astype("Float64")
    return frame
