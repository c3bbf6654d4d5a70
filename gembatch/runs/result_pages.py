"""A run's results a page at a time: frames over consecutive input positions, and a Parquet file
written page by page, so a run of millions of articles is read without one frame of them all."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gembatch.errors import InputError
from gembatch.runs.context import STREAM_META, Context
from gembatch.runs.results import export, frame_from_rows, results_frame
from gembatch.runs.store import RunStore

__all__ = ["export_pages", "iter_pages", "write_results_file"]


def write_results_file(ctx: Context, path: Path) -> None:
    """The run's ``results.parquet``: page by page for a streamed input, from the whole frame otherwise."""
    if ctx.store.get_meta(STREAM_META) is not None:
        export_pages(ctx.store, ctx.spec.response_schema, path)
    else:
        export(results_frame(ctx.store, ctx.spec.response_schema), path)


def iter_pages(
    store: RunStore, schema: Mapping[str, Any] | None, page_size: int = 50_000
) -> Iterator[pd.DataFrame]:
    """Results frames of at most ``page_size`` articles, in input order, each article once.

    Each page has the columns and dtypes of ``run.results()``; pages are read when asked for, so
    a page reflects what was collected by then.
    """
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InputError(
            f"page_size must be a whole number of at least 1, not {page_size!r}", field="page_size"
        )
    cached = store.get_meta("cache")
    lo, hi = store.article_span()
    for start in range(lo, hi, page_size):
        rows = store.result_rows_between(start, start + page_size)
        if rows:
            yield frame_from_rows(rows, schema, cached)


def export_pages(
    store: RunStore, schema: Mapping[str, Any] | None, path: str | os.PathLike[str], page_size: int = 50_000
) -> Path:
    """Write the results to a Parquet file page by page (atomically: ``path`` appears when complete)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    if out.suffix.lower() not in (".parquet", ".pq"):
        raise InputError(f"cannot write {out.name} page by page: use a .parquet file name", field="path")
    tmp = out.with_name(out.name + ".part")
    writer: Any = None
    try:
        for page in iter_pages(store, schema, page_size):
            table = pa.Table.from_pandas(page, preserve_index=True)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table.cast(writer.schema))
        if writer is None:  # no articles: an empty file with the results' columns
            empty = frame_from_rows([], schema, None)
            writer = pq.ParquetWriter(tmp, pa.Table.from_pandas(empty, preserve_index=True).schema)
        writer.close()
        writer = None
        os.replace(tmp, out)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return out
