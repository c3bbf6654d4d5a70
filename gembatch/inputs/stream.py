"""Articles streamed from Parquet as Arrow record batches: inputs too large to hold in memory.

Each batch becomes a small frame indexed by article id, checked like :func:`read_articles` checks
a whole frame (the id column present, no missing or repeated ids, the text column present), so a
1,000,000-article file is read with memory bounded by ``batch_size``, not by the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd

from gembatch.errors import InputError

__all__ = ["iter_article_batches", "parquet_rows"]


def parquet_rows(path: str | os.PathLike[str]) -> int:
    """Rows in a Parquet file, from its footer (nothing else is read)."""
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def iter_article_batches(
    path: str | os.PathLike[str],
    *,
    id_col: str = "id",
    text_col: str = "text",
    columns: list[str] | None = None,
    batch_size: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """Frames of at most ``batch_size`` articles (index ``article_id``) read from a Parquet file.

    ``columns`` are the extra columns the prompt uses (the text column is always read). A missing
    column, a missing id or an id seen before raises :class:`InputError` naming the row.
    """
    import pyarrow.parquet as pq

    if batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {batch_size}", field="batch_size")
    try:
        pfile = pq.ParquetFile(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{os.fspath(path)!r} is not a readable Parquet file: {exc}") from None
    names = set(pfile.schema_arrow.names)
    wanted = list(dict.fromkeys([id_col, text_col, *(columns or [])]))
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputError(
            f"{os.fspath(path)!r} has no column(s) {', '.join(map(repr, missing))}; it has {sorted(names)}",
            field=missing[0],
        )
    seen: set[str] = set()
    row = 0
    for batch in pfile.iter_batches(batch_size=batch_size, columns=wanted):
        frame = batch.to_pandas()
        ids = frame[id_col]
        if ids.isna().any():
            at = row + int(ids.isna().to_numpy().argmax())
            raise InputError(f"row {at}: the {id_col!r} column is empty", row=at, field=id_col)
        keys = ids.astype(str)
        for offset, key in enumerate(keys.tolist()):
            if key in seen:
                raise InputError(
                    f"row {row + offset}: article id {key!r} appears twice", row=row + offset, field=id_col
                )
            seen.add(key)
        frame.index = pd.Index(keys, name="article_id")
        frame = frame.drop(columns=[id_col])
        if text_col != "text":
            frame = frame.rename(columns={text_col: "text"})
        frame["text"] = frame["text"].fillna("").astype(str)
        row += len(frame)
        yield frame
