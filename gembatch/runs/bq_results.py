"""Results left in BigQuery: ``gb.Run.create(..., results_in="bigquery")`` on a Vertex run with ``dataset=``.

The jobs' output tables are kept (never dropped by collection or cleanup) and named by
:meth:`gembatch.Run.result_tables`. Collection still accounts for every article, but reads only
each row's key, status, finish reason and token usage (a query on the table, no response text);
:meth:`gembatch.Run.results` then reads the texts back from the tables, page by page, when it is
called. A run with a response schema reads the responses to check them, as any run does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from gembatch.errors import InputError
from gembatch.runs.context import Context
from gembatch.runs.response_lines import parse_response
from gembatch.runs.states import State

__all__ = ["check_results_in", "fetch_outcomes", "fill_results", "result_tables", "text_stays_in_bigquery"]

RESULTS_IN = ("local", "bigquery")


def check_results_in(value: Any, transport: Any) -> None:
    """Refuse an unknown ``results_in``, or ``"bigquery"`` on a transport without a dataset."""
    if value is None or value == "local":
        return
    if value not in RESULTS_IN:
        raise InputError(f"results_in must be 'local' or 'bigquery', not {value!r}", field="results_in")
    if getattr(transport, "bq", None) is None:
        raise InputError(
            "results_in='bigquery' needs the vertex backend with a BigQuery dataset: "
            "gb.connect(backend='vertex', ..., dataset='project.dataset')",
            field="results_in",
        )


def _tables(ctx: Context) -> Any:
    tables = getattr(ctx.transport, "bq", None)
    if tables is None:
        raise InputError(
            "this run keeps its results in BigQuery: open it with the vertex transport made with dataset=",
            field="client",
        )
    return tables


def text_stays_in_bigquery(ctx: Context) -> bool:
    """True when collection reads outcomes only (results in BigQuery and no schema to check)."""
    return ctx.config.results_in == "bigquery" and not ctx.spec.response_schema


def fetch_outcomes(ctx: Context, uri: str) -> Iterator[dict[str, Any]]:
    """Response lines of an output table without their text: key, status, finish reason, usage."""
    return iter(_tables(ctx).iter_outcomes(uri))


def result_tables(ctx: Context) -> list[str]:
    """The kept output tables of the run's collected chunks (empty unless ``results_in="bigquery"``)."""
    if ctx.config.results_in != "bigquery":
        return []
    rows = ctx.store.chunks_in(State.COLLECTED)
    return [str(r["output_file"]) for r in rows if str(r["output_file"] or "").startswith("bq://")]


def fill_results(ctx: Context, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with ``output_text`` of succeeded articles read from the kept tables, page by page."""
    if not text_stays_in_bigquery(ctx) or not len(frame):
        return frame
    tables = _tables(ctx)
    chunk_of = frame["chunk_id"][frame["status"] == "succeeded"].to_dict()
    texts: dict[str, str | None] = {}
    for row in ctx.store.chunks_in(State.COLLECTED):
        uri = str(row["output_file"] or "")
        if not uri.startswith("bq://"):
            continue
        for line in tables.iter_results(uri):
            key = line["key"]
            if "response" in line and chunk_of.get(key) == row["chunk_id"]:  # the attempt that counted
                texts[key] = parse_response(key, line["response"], None).output_text
    if texts:
        frame.loc[list(texts), "output_text"] = pd.array(list(texts.values()), dtype="string")
    return frame
