"""The results DataFrame (one row per article, typed columns) and its parquet/CSV/JSONL export."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gembatch.errors import InputError
from gembatch.runs.store import RunStore

__all__ = ["RESULT_COLUMNS", "export", "frame_from_rows", "results_frame", "schema_dtypes"]

RESULT_COLUMNS = (
    "status",
    "output_text",
    "prompt_tokens",
    "output_tokens",
    "thoughts_tokens",
    "cost_usd",
    "finish_reason",
    "error",
    "chunk_id",
    "attempt",
    "cached",
)
STATUS = pd.CategoricalDtype(["succeeded", "failed", "pending"])


_KIND = {"STRING": "string", "INTEGER": "Int64", "NUMBER": "Float64", "BOOLEAN": "boolean"}


def schema_dtypes(schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """Column name → pandas dtype for each top-level field of an OBJECT response schema."""
    if not schema or str(schema.get("type", "")).upper() != "OBJECT":
        return {}
    props: Mapping[str, Any] = schema.get("properties") or {}
    order = list(schema.get("propertyOrdering") or schema.get("property_ordering") or [])
    names = order + [n for n in props if n not in order]
    out: dict[str, Any] = {}
    for name in names:
        sub = props.get(name) or {}
        kind = str(sub.get("type", "")).upper()
        if kind == "STRING" and sub.get("enum"):
            out[name] = pd.CategoricalDtype(list(sub["enum"]))
        else:
            out[name] = _KIND.get(kind, "object")
    return out


def _field_column(name: str) -> str:
    return f"field_{name}" if name in RESULT_COLUMNS or name == "article_id" else name


def results_frame(
    ledger: RunStore, schema: Mapping[str, Any] | None = None, articles: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per article (index ``article_id``) with the documented results columns, schema fields typed.

    Articles still pending have missing values (``<NA>``), never zeros pretending to be results.
    ``cached`` marks answers taken from the response cache (``attrs``: ``cache_hits``, ``cache_saved_usd``).
    ``articles`` given → its columns are joined on the right (prefixed ``input_`` on a clash).
    """
    frame = frame_from_rows(ledger.result_rows(), schema, ledger.get_meta("cache"))
    if articles is not None:
        extra = articles.rename(columns={c: f"input_{c}" for c in articles.columns if c in frame.columns})
        frame = frame.join(extra, how="left")
    return frame


def frame_from_rows(
    rows: list[tuple[Any, ...]], schema: Mapping[str, Any] | None, cached: Mapping[str, Any] | None
) -> pd.DataFrame:
    """The results frame of store rows (:meth:`RunStore.result_rows`, or one page of them);
    ``cached``: the cache figures recorded when the run was created."""
    cols = list(zip(*rows, strict=True)) if rows else [()] * 12
    index = pd.Index(list(cols[0]), name="article_id", dtype="string")
    frame = pd.DataFrame(
        {
            "status": pd.Categorical(list(cols[1]), dtype=STATUS),
            "output_text": pd.array(list(cols[2]), dtype="string"),
        },
        index=index,
    )
    dtypes = schema_dtypes(schema)
    if dtypes:
        parsed = [json.loads(v) if v else {} for v in cols[3]]
        for name, dtype in dtypes.items():
            values = [p.get(name) for p in parsed]
            if dtype == "object":
                frame[_field_column(name)] = pd.Series(values, index=index, dtype="object")
            else:
                frame[_field_column(name)] = pd.array(values, dtype=dtype)
    pending = [s not in ("succeeded", "failed") for s in cols[1]]
    for pos, name in ((4, "prompt_tokens"), (5, "output_tokens"), (6, "thoughts_tokens")):
        frame[name] = pd.array(
            [None if p else v for v, p in zip(cols[pos], pending, strict=True)], dtype="Int64"
        )
    frame["cost_usd"] = pd.array(list(cols[7]), dtype="Float64")
    frame["finish_reason"] = pd.array(list(cols[8]), dtype="string")
    frame["error"] = pd.array(list(cols[9]), dtype="string")
    frame["chunk_id"] = pd.array(list(cols[10]), dtype="string")
    frame["attempt"] = pd.array(list(cols[11]), dtype="Int64")
    # answered from the response cache when the run was created (cost 0: paid for by an earlier run)
    frame["cached"] = pd.array([c == "cache" for c in cols[10]], dtype="boolean")
    cached = cached or {}
    frame.attrs["cache_hits"] = int(cached.get("cache_hits") or 0)
    frame.attrs["cache_saved_usd"] = float(cached.get("cache_saved_usd") or 0.0)
    return frame


def export(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``frame`` by extension (.parquet, .csv, .jsonl) atomically; returns the path."""
    out = Path(path)
    tmp = out.with_name(out.name + ".part")
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        frame.to_parquet(tmp)
    elif suffix == ".csv":
        frame.to_csv(tmp)
    elif suffix == ".jsonl":
        frame.reset_index().to_json(tmp, orient="records", lines=True)
    else:
        raise InputError(f"cannot write {out.name}: use a .parquet, .csv or .jsonl file name")
    os.replace(tmp, out)
    return out
