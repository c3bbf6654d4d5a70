"""BigQuery input and output of the emulator's Vertex ``batchPredictionJobs``, through the local stand-in.

Input ``bq://project.dataset.table``: the table is read page by page; its ``request`` column
(STRING holding JSON, or JSON) is each row's GenerateContentRequest, and every other column is
carried to the output. A row whose request is not a JSON object is not sent to the model: it gets
a ``Bad Request: {...}`` status, as the service reports a bad row. A missing table or a missing
``request`` column makes the source unreadable, which fails the whole job.

Output ``bq://project.dataset.table`` (created when missing) or ``bq://project.dataset`` (a new
``predictions_<time>`` table): the input columns, ``response`` (the GenerateContentResponse as a
JSON string, null on failure) and ``status`` (empty on success), written in pages of rows.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gembatch.emulator._checks import check_generate
from gembatch.emulator._errors import ApiError, invalid

__all__ = [
    "PAGE_ROWS", "Unreadable", "bad_row_status", "io_configs", "output_rows", "read_table", "row_checker",
    "split_bq", "stage_table", "write_predictions",
]  # fmt: skip

PAGE_ROWS = 500  # rows per tabledata.list page and per insertAll call
_URI = re.compile(r"^bq://(?P<project>[A-Za-z0-9_.:-]+?)\.(?P<dataset>\w+)(?:\.(?P<table>[\w$-]+))?$")
_RESERVED = ("response", "status")


class Unreadable(Exception):
    """The job's BigQuery source cannot be read: the job fails with this message (and rpc ``code``)."""

    def __init__(self, message: str, code: int = 3):
        super().__init__(message)
        self.code = code


def split_bq(uri: Any, field: str, *, table: bool) -> tuple[str, str, str | None]:
    """(project, dataset, table) of ``bq://p.ds.t`` (or ``bq://p.ds`` when ``table`` is False)."""
    m = _URI.match(uri) if isinstance(uri, str) else None
    if m is None or (table and not m.group("table")):
        shape = "bq://project.dataset.table" if table else "bq://project.dataset[.table]"
        raise invalid(field, f"{uri!r} is not a {shape} URI")
    return m.group("project"), m.group("dataset"), m.group("table")


def bad_row_status(message: str) -> str:
    """The ``status`` text of a row the service rejected, as Vertex writes it."""
    error = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    return f"Bad Request: {json.dumps({'error': error})}"


def io_configs(record: Mapping[str, Any]) -> dict[str, Any]:
    """The job resource's ``inputConfig`` and ``outputConfig`` (BigQuery or Cloud Storage)."""
    if record.get("format") == "bigquery":
        return {"inputConfig": {"instancesFormat": "bigquery",
                                "bigquerySource": {"inputUri": record["input_uri"]}},
                "outputConfig": {"predictionsFormat": "bigquery",
                                 "bigqueryDestination": {"outputUri": record["dest"]}}}  # fmt: skip
    return {"inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": record["input_uris"]}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": record["dest"]}}}  # fmt: skip


def _jsonable(value: Any, kind: str) -> Any:
    """A value read by the BigQuery client, as ``insertAll`` takes it back."""
    if value is None:
        return None
    if kind == "JSON":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _request_of(value: Any, row: int) -> dict[str, Any] | str:
    """The row's request object, or the status text of a row whose request is unusable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            return bad_row_status(f"Invalid JSON payload in the request column of row {row}: {exc}")
    if value is None:
        return bad_row_status(f"The request column of row {row} is empty.")
    if not isinstance(value, dict):
        return bad_row_status(f"The request column of row {row} is not a JSON object.")
    return value


def read_table(
    client: Any, uri: str, page_rows: int = PAGE_ROWS
) -> tuple[list[dict[str, Any]], Iterator[tuple[dict[str, Any], dict[str, Any] | str]]]:
    """The table's schema (API form) and its rows as (carried row, request or bad-row status), paged."""
    from google.api_core import exceptions as gexc

    project, dataset, table = split_bq(uri, "input_config.bigquery_source.input_uri", table=True)
    ref = f"{project}.{dataset}.{table}"
    try:
        found = client.get_table(ref)
    except gexc.NotFound:
        raise Unreadable(f"Failed to read the BigQuery input table {uri}: it does not exist.", 5) from None
    except gexc.GoogleAPICallError as exc:
        raise Unreadable(f"Failed to read the BigQuery input table {uri}: {exc.message}") from None
    fields = {f.name: str(f.field_type).upper() for f in found.schema}
    if "request" not in fields:
        raise Unreadable(f"The BigQuery input table {uri} has no 'request' column.")
    taken = [name for name in _RESERVED if name in fields]
    if taken:
        raise Unreadable(f"The BigQuery input table {uri} uses the reserved column name(s) {taken}.")
    schema = [f.to_api_repr() for f in found.schema]

    def rows() -> Iterator[tuple[dict[str, Any], dict[str, Any] | str]]:
        n = 0
        for page in client.list_rows(found, page_size=page_rows).pages:
            for row in page:
                carried = {k: _jsonable(row.get(k), fields[k]) for k in fields}
                yield carried, _request_of(row.get("request"), n)
                n += 1

    return schema, rows()


def row_checker(served: Any, app: Any, owner: str) -> Callable[[dict[str, Any]], str | None]:
    """Why the service refuses one request (a row's status rather than a job error), or None."""
    host = urlsplit(app.base_url).netloc

    def check(request: dict[str, Any]) -> str | None:
        try:
            body = {k: v for k, v in request.items() if k != "labels"}
            check_generate(served, body, own_host=host, context_window=False,
                           file_exists=lambda f: bool(app.files.exists(f, owner)))  # fmt: skip
        except ApiError as exc:
            return exc.message
        return None

    return check


def stage_table(
    client: Any, uri: str, path: Path, check: Callable[[dict[str, Any]], str | None]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Read the table into ``path`` (one line per row) → (schema, the valid requests, bad rows).

    A line holds the carried row and either ``index`` (into the requests) or the bad row's
    ``status``; ``check`` returns why the service would refuse a request (None when it would not).
    """
    schema, rows = read_table(client, uri)
    requests: list[dict[str, Any]] = []
    bad = 0
    with path.open("w", encoding="utf-8") as out:
        for carried, request in rows:
            line: dict[str, Any] = {"row": carried}
            refused = bad_row_status(why) if isinstance(request, dict) and (why := check(request)) else None
            if refused is not None or isinstance(request, str):
                line["status"], bad = refused or request, bad + 1
            else:
                line["index"] = len(requests)
                requests.append(request)
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    if not requests:
        raise Unreadable(f"The BigQuery input table {uri} holds no row with a valid request.")
    return schema, requests, bad


def output_rows(path: Path, items: list[Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """The output rows: each staged row with ``response`` and ``status`` from the batch's answers."""
    by_index = {int((it.get("metadata") or {}).get("key", -1)): it for it in items}
    missing = {"code": 500, "message": "The request was not processed.", "status": "INTERNAL"}
    with path.open(encoding="utf-8") as lines:
        for raw in lines:
            line = json.loads(raw)
            row = line["row"]
            if "index" not in line:
                yield {**row, "response": None, "status": line["status"]}
                continue
            item = by_index.get(line["index"]) or {"error": missing}
            error = item.get("error")
            response = None if error else json.dumps(item.get("response") or {}, ensure_ascii=False)
            status = f"Bad Request: {json.dumps({'error': error})}" if error else ""
            yield {**row, "response": response, "status": status}


def _output_schema(client: Any, schema: list[Mapping[str, Any]]) -> list[Any]:
    from google.cloud import bigquery

    fields = [bigquery.SchemaField.from_api_repr(dict(f)) for f in schema]
    return [*fields, bigquery.SchemaField("response", "STRING"), bigquery.SchemaField("status", "STRING")]


def write_predictions(
    client: Any,
    dest: str,
    schema: list[Mapping[str, Any]],
    rows: Iterator[dict[str, Any]],
    *,
    stamp: Callable[[], str],
    page_rows: int = PAGE_ROWS,
) -> tuple[str, str]:
    """Write the output rows to ``dest`` (a table, or a new ``predictions_<stamp>`` table of a dataset).

    Returns (``bq://project.dataset``, table id). The dataset is created when missing, as the
    stand-in starts empty; the real service needs it to exist.
    """
    from google.cloud import bigquery

    project, dataset, table = split_bq(dest, "output_config.bigquery_destination.output_uri", table=False)
    table = table or f"predictions_{stamp()}"
    client.create_dataset(bigquery.Dataset(f"{project}.{dataset}"), exists_ok=True)
    target = client.create_table(
        bigquery.Table(f"{project}.{dataset}.{table}", schema=_output_schema(client, schema)), exists_ok=True
    )
    page: list[dict[str, Any]] = []

    def flush() -> None:
        errors = client.insert_rows_json(target, page) if page else []
        if errors:
            raise RuntimeError(f"writing predictions to {project}.{dataset}.{table} failed: {errors[:3]}")
        page.clear()

    for row in rows:
        page.append(row)
        if len(page) >= page_rows:
            flush()
    flush()
    return f"bq://{project}.{dataset}", table
