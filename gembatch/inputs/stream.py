"""Articles streamed from Parquet as Arrow record batches: inputs too large to hold in memory.

Each batch becomes a small frame indexed by article id, checked like :func:`read_articles` checks
a whole frame (the id column present, no missing or repeated ids, no empty text), so a
1,000,000-article file is read with memory bounded by ``batch_size``, not by the file.
:class:`ArticleStream` names such a source (one Parquet file, or a directory of them) so that it
can be read again: once to plan, once to create the run, once more to check a reopened run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gembatch.errors import InputError

__all__ = ["ArticleStream", "as_stream", "is_stream_source", "iter_article_batches", "parquet_rows"]


def parquet_rows(path: str | os.PathLike[str]) -> int:
    """Rows in a Parquet file (or a directory of them), from the footers (nothing else is read)."""
    import pyarrow.parquet as pq

    return sum(int(pq.ParquetFile(p).metadata.num_rows) for p in _files(Path(path)))


def _files(path: Path) -> list[Path]:
    """The Parquet files of ``path``: itself, or a directory's ``*.parquet`` files in name order."""
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
        if not found:
            raise InputError(f"{os.fspath(path)!r} holds no .parquet files")
        return found
    if not path.exists():
        raise InputError(f"{os.fspath(path)!r} is not a readable Parquet file: no such file")
    return [path]


@dataclass(frozen=True)
class ArticleStream:
    """A Parquet file (or a directory of Parquet files) read as frames of at most ``batch_size`` articles.

    Iterating it yields frames indexed by ``article_id`` with a ``text`` column and the extra
    ``columns`` the prompt uses; every iteration reads the files again from the start.
    ``unique=False`` leaves the repeated-id check to the caller (a run checks ids in its ledger,
    so that memory does not grow with the number of articles).
    """

    path: Path
    id_col: str = "id"
    text_col: str = "text"
    columns: tuple[str, ...] = ()
    batch_size: int = 50_000
    unique: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "columns", tuple(self.columns))

    def with_columns(self, columns: Any) -> ArticleStream:
        """The same source reading these extra columns as well."""
        extra = tuple(
            dict.fromkeys([*self.columns, *(c for c in columns if c not in ("text", self.text_col))])
        )
        return ArticleStream(self.path, self.id_col, self.text_col, extra, self.batch_size, self.unique)

    def without_unique_check(self) -> ArticleStream:
        return ArticleStream(self.path, self.id_col, self.text_col, self.columns, self.batch_size, False)

    def rows(self) -> int:
        return parquet_rows(self.path)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return _iter(self)


def is_stream_source(source: Any) -> bool:
    """True for what :func:`as_stream` takes: a Parquet path, a directory of them, an ArticleStream."""
    if isinstance(source, ArticleStream):
        return True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return path.is_dir() or path.suffix.lower() in (".parquet", ".pq")
    return False


def as_stream(source: Any, **options: Any) -> ArticleStream:
    """``source`` as an :class:`ArticleStream` (``options``: its fields, e.g. ``batch_size``)."""
    if isinstance(source, ArticleStream):
        return source
    if isinstance(source, str | os.PathLike):
        return ArticleStream(Path(source), **options)
    raise InputError(
        f"a streamed input is a Parquet file, a directory of Parquet files or an ArticleStream, "
        f"not {type(source).__name__}"
    )


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
    column, a missing id, an id seen before or an empty text raises :class:`InputError` naming the row.
    """
    return _iter(ArticleStream(Path(path), id_col, text_col, tuple(columns or ()), batch_size))


def _iter(src: ArticleStream) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    if src.batch_size < 1:
        raise InputError(f"batch_size must be at least 1, not {src.batch_size}", field="batch_size")
    id_col, text_col = src.id_col, src.text_col
    wanted = list(dict.fromkeys([id_col, text_col, *src.columns]))
    seen: set[str] = set()
    row = 0
    for path in _files(src.path):
        try:
            pfile = pq.ParquetFile(path)
        except (OSError, ValueError) as exc:
            raise InputError(f"{os.fspath(path)!r} is not a readable Parquet file: {exc}") from None
        names = set(pfile.schema_arrow.names)
        missing = [c for c in wanted if c not in names]
        if missing:
            raise InputError(
                f"{os.fspath(path)!r} has no column(s) {', '.join(map(repr, missing))}; "
                f"it has {sorted(names)}",
                field=missing[0],
            )
        for batch in pfile.iter_batches(batch_size=src.batch_size, columns=wanted):
            frame = batch.to_pandas()
            yield _checked(frame, row, id_col, text_col, seen if src.unique else None)
            row += len(frame)


def _checked(
    frame: pd.DataFrame, row: int, id_col: str, text_col: str, seen: set[str] | None
) -> pd.DataFrame:
    ids = frame[id_col]
    if ids.isna().any():
        at = row + int(ids.isna().to_numpy().argmax())
        raise InputError(f"row {at}: the {id_col!r} column is empty", row=at, field=id_col)
    keys = ids.astype(str)
    if seen is not None:
        for offset, key in enumerate(keys.tolist()):
            if key in seen:
                raise InputError(f"row {row + offset}: article id {key!r} appears twice", row=row + offset,
                                 field=id_col)  # fmt: skip
            seen.add(key)
    elif not keys.is_unique:
        offset = int(keys.duplicated().to_numpy().argmax())
        raise InputError(f"row {row + offset}: article id {keys.iloc[offset]!r} appears twice",
                         row=row + offset, field=id_col)  # fmt: skip
    texts = frame[text_col]
    empty = texts.isna().to_numpy() | (texts.fillna("").astype(str).str.strip() == "").to_numpy()
    if empty.any():
        at = int(empty.argmax())
        raise InputError(f"row {row + at}: article {keys.iloc[at]!r} has an empty {text_col!r}",
                         row=row + at, field=text_col)  # fmt: skip
    frame.index = pd.Index(keys, name="article_id")
    frame = frame.drop(columns=[id_col])
    if text_col != "text":
        frame = frame.rename(columns={text_col: "text"})
    frame["text"] = frame["text"].astype(str)
    return frame
