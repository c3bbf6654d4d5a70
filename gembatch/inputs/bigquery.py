"""Articles from a BigQuery table or query, read page by page.

:func:`read_bigquery` returns the articles DataFrame that :func:`~gembatch.read_articles` makes
(same checks: a missing column, an empty or repeated id, an empty text each raise one
:class:`~gembatch.InputError` naming the row and field). :func:`iter_bigquery_record_batches`
yields the rows as Arrow record batches, one per page, and :func:`iter_bigquery_batches` turns
them into checked article frames for :func:`~gembatch.planning.stream_plan.plan_stream`, so a
table larger than memory is planned with one page held at a time.

``client`` is a ``google.cloud.bigquery.Client`` or the Vertex transport
(``gb.connect(backend="vertex", dataset=...)``), whose BigQuery client is then used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from gembatch.errors import InputError
from gembatch.inputs.articles import read_articles
from gembatch.planning.catalog import Catalog

__all__ = ["iter_bigquery_batches", "iter_bigquery_record_batches", "read_bigquery"]

PAGE_ROWS = 10_000
_TABLE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")


def _client(client: Any) -> Any:
    """The google-cloud-bigquery client behind ``client`` (a transport with ``dataset=``, or itself)."""
    tables = getattr(client, "bq", None)
    if tables is not None:
        return tables.client
    if client is not None and hasattr(client, "list_rows"):
        return client
    if client is None:
        from google.cloud import bigquery

        return bigquery.Client()
    raise InputError(
        f"client must be a google.cloud.bigquery.Client or a Vertex transport with dataset=, "
        f"not {type(client).__name__}",
        field="client",
    )


def _rows(client: Any, table: str | None, query: str | None, columns: list[str], page_size: int) -> Any:
    """A RowIterator over the table (only ``columns``, checked first) or the query's result."""
    from google.api_core import exceptions

    if (table is None) == (query is None):
        raise InputError("pass exactly one of table='project.dataset.table' or query=<a standard-SQL query>")
    if page_size < 1:
        raise InputError(f"page_size must be at least 1, not {page_size}", field="page_size")
    if table is not None:
        name = str(table).removeprefix("bq://")
        if name.count(".") < 1 or not set(name) <= _TABLE_CHARS:
            raise InputError(f"{table!r} is not a BigQuery table name (project.dataset.table)", field="table")
        try:
            found = client.get_table(name)
        except exceptions.NotFound:
            raise InputError(f"BigQuery table {name!r} not found", field="table") from None
        _check_columns([f.name for f in found.schema], columns, f"table {name!r}")
        fields = [f for f in found.schema if f.name in columns]
        return client.list_rows(found, selected_fields=fields, page_size=page_size)
    try:
        rows = client.query(str(query)).result(page_size=page_size)
    except (exceptions.BadRequest, exceptions.NotFound) as exc:
        raise InputError(
            f"the BigQuery query failed: {getattr(exc, 'message', exc)}", field="query"
        ) from None
    _check_columns([f.name for f in rows.schema or []], columns, "the query's result")
    return rows


def _check_columns(have: list[str], wanted: list[str], what: str) -> None:
    missing = [c for c in wanted if c not in have]
    if missing:
        raise InputError(
            f"{what} has no column(s) {', '.join(map(repr, missing))}; it has {', '.join(have) or 'none'}",
            field=missing[0],
        )


def iter_bigquery_record_batches(
    table: str | None = None,
    query: str | None = None,
    *,
    columns: list[str] | None = None,
    client: Any = None,
    page_size: int = PAGE_ROWS,
) -> Iterator[Any]:
    """The rows of a table (its ``columns``, default all) or a query, one Arrow record batch per page."""
    bq = _client(client)
    rows = _rows(bq, table, query, list(columns or []), page_size)
    wanted = list(columns or [])
    for batch in rows.to_arrow_iterable(bqstorage_client=None):
        if batch.num_rows:
            yield batch.select(wanted) if query is not None and wanted else batch


def iter_bigquery_batches(
    table: str | None = None,
    query: str | None = None,
    *,
    id_col: str = "id",
    text_col: str = "text",
    columns: list[str] | None = None,
    client: Any = None,
    page_size: int = PAGE_ROWS,
) -> Iterator[pd.DataFrame]:
    """Article frames (index ``article_id``, a ``text`` column, then ``columns``), one per page.

    Checked like :func:`~gembatch.inputs.stream.iter_article_batches`: a missing column, a missing
    or empty id, an id seen before or an empty text raises :class:`InputError` naming the row.
    """
    wanted = list(dict.fromkeys([id_col, text_col, *(columns or [])]))
    seen: set[str] = set()
    row = 0
    batches = iter_bigquery_record_batches(table, query, columns=wanted, client=client, page_size=page_size)
    for batch in batches:
        frame = batch.to_pandas()
        ids = frame[id_col].map(lambda v: "" if pd.isna(v) else str(v))
        for offset, (key, text) in enumerate(zip(ids.tolist(), frame[text_col].tolist(), strict=True)):
            at = row + offset
            if not key.strip():
                raise InputError(f"row {at}: id field {id_col!r} is missing or empty", row=at, field=id_col)
            if key in seen:
                raise InputError(f"row {at}: article id {key!r} appears twice", row=at, field=id_col)
            if not isinstance(text, str) or not text.strip():
                raise InputError(f"row {at}: field {text_col!r} is empty or missing", row=at, field=text_col)
            seen.add(key)
        frame.index = pd.Index(ids, name="article_id", dtype="str")
        frame = frame.drop(columns=[id_col]).rename(columns={text_col: "text"})
        row += len(frame)
        yield frame


def read_bigquery(
    table: str | None = None,
    query: str | None = None,
    *,
    id_col: str = "id",
    text_col: str = "text",
    columns: list[str] | None = None,
    client: Any = None,
    page_size: int = PAGE_ROWS,
    model: str | None = None,
    catalog: Catalog | None = None,
) -> pd.DataFrame:
    """The articles DataFrame (as :func:`~gembatch.read_articles` returns it) from BigQuery.

    Parameters
    ----------
    table, query
        Exactly one: ``"project.dataset.table"`` (only ``id_col``, ``text_col`` and ``columns`` are
        read) or a standard-SQL ``SELECT`` whose result holds those columns.
    id_col, text_col
        The article id and text columns.
    columns
        Other columns to keep (for prompt templates); default none.
    client
        A ``google.cloud.bigquery.Client`` or a Vertex transport made with ``dataset=``.

    Examples
    --------
    >>> t = gb.connect(backend="vertex", project="p", location="eu-west1", dataset="p.news")  # doctest: +SKIP
    >>> arts = gb.read_bigquery(table="p.news.items", text_col="body", client=t)  # doctest: +SKIP
    """
    wanted = list(dict.fromkeys([id_col, text_col, *(columns or [])]))
    batches = iter_bigquery_record_batches(table, query, columns=wanted, client=client, page_size=page_size)
    pages = [batch.to_pandas() for batch in batches]
    if not pages:
        raise InputError(f"no articles: the BigQuery {'table' if table is not None else 'query'} is empty")
    frame = pd.concat(pages, ignore_index=True)
    return read_articles(frame, id_col=id_col, text_col=text_col, model=model, catalog=catalog)
