"""The BigQuery side of the Vertex backend: a run's inputs and outputs as tables of one dataset.

With ``gb.connect(backend="vertex", ..., dataset="project.dataset")`` every job reads a table and
writes a table instead of Cloud Storage objects. :class:`BigQueryTables` does the table work for
:class:`~gembatch.transport.vertex.VertexTransport`; the run loop sees the same operations:

- ``upload`` writes a chunk's request lines, page by page, to a new table with two columns,
  ``gembatch_key`` (STRING, the article id) and ``request`` (STRING, a GenerateContentRequest as
  JSON), and returns ``bq://project.dataset.table``. Vertex copies ``gembatch_key`` to the output.
- a job's output is another table of the dataset (``response`` and ``status`` beside the input
  columns); ``download`` reads it page by page as gembatch response lines.
- ``drop`` deletes a table; ``list_inputs`` lists the run input tables under the prefix, so an
  input table made just before a crash is found and dropped.

Table names carry the job's display name, escaped to letters, digits and underscores
(``gembatch__run-1/c00001/1`` → ``gembatch__run_d1_sc00001_s1__input_<random>``), so a table is
traced back to its chunk without labels.

>>> table_name("gembatch", "gembatch/run-1/c00001/1", "input", "ab12")
'gembatch__run_d1_sc00001_s1__input_ab12'
>>> display_of("gembatch", "gembatch__run_d1_sc00001_s1__input_ab12")
'gembatch/run-1/c00001/1'
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO

from gembatch.errors import InputError
from gembatch.transport.vertex_bq_store import outcome_query
from gembatch.transport.vertex_lines import prediction_result

__all__ = [
    "BigQueryTables",
    "display_of",
    "is_bq_uri",
    "output_table",
    "parse_bq_uri",
    "table_name",
]

KEY_COLUMN = "gembatch_key"
#: rows per ``insert_rows_json`` call and per page read back (a page stays well under 10 MB).
PAGE_ROWS = 500
_PAGE_BYTES = 5_000_000
_ESCAPES = {"-": "d", ".": "p", "_": "u", "/": "s"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_WORD = re.compile(r"[A-Za-z0-9]")


def is_bq_uri(uri: str | None) -> bool:
    return str(uri or "").startswith("bq://")


def parse_bq_uri(uri: str) -> tuple[str, str, str]:
    """``bq://project.dataset.table`` → ``(project, dataset, table)``; else an :class:`InputError`."""
    text = str(uri)
    parts = text.removeprefix("bq://").rsplit(".", 2)
    if not text.startswith("bq://") or len(parts) != 3 or not all(parts):
        raise InputError(f"{text!r} is not a BigQuery table URI (bq://project.dataset.table)", field="uri")
    return parts[0], parts[1], parts[2]


def _escape(text: str) -> str:
    out = []
    for ch in text:
        if _WORD.fullmatch(ch):
            out.append(ch)
        elif ch in _ESCAPES:
            out.append("_" + _ESCAPES[ch])
        else:
            out.append(f"_x{ord(ch):06x}")
    return "".join(out)


def _unescape(text: str) -> str | None:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "_":
            out.append(ch)
            i += 1
            continue
        code = text[i + 1 : i + 2]
        if code in _UNESCAPES:
            out.append(_UNESCAPES[code])
            i += 2
        elif code == "x" and len(text) >= i + 8:
            try:
                out.append(chr(int(text[i + 2 : i + 8], 16)))
            except ValueError:
                return None
            i += 8
        else:
            return None
    return "".join(out)


def table_name(prefix: str, display_name: str, kind: str, rand: str) -> str:
    """The table of one job's ``input`` or ``output``: the escaped prefix and display name (an
    escaped text never holds ``__``, so the parts split back unambiguously)."""
    tail = display_name.removeprefix("gembatch/").strip("/") or "job"
    return f"{_escape(prefix)}__{_escape(tail)}__{kind}_{rand}"


def display_of(prefix: str, table: str) -> str | None:
    """The display name an input table of ``prefix`` was made for, or None for any other table."""
    head, sep, rest = table.partition("__")
    if not sep or head != _escape(prefix):
        return None
    tail, sep, kind = rest.rpartition("__")
    if not sep or not kind.startswith("input_"):
        return None
    text = _unescape(tail)
    return None if text is None else f"gembatch/{text}"


def output_table(job: Mapping[str, Any]) -> str | None:
    """A finished job's BigQuery output table as ``bq://project.dataset.table``, if it has one.

    ``outputInfo`` names it (``bigqueryOutputDataset`` + ``bigqueryOutputTable``, or a full URI in
    ``bigqueryOutputTable``); otherwise the table the job was asked to write is taken.
    """
    info = job.get("outputInfo") or {}
    table = str(info.get("bigqueryOutputTable") or "")
    if table.startswith("bq://"):
        return table
    dataset = str(info.get("bigqueryOutputDataset") or "").removeprefix("bq://")
    if table and dataset:
        return f"bq://{dataset}.{table}"
    dest = ((job.get("outputConfig") or {}).get("bigqueryDestination") or {}).get("outputUri")
    return str(dest) if is_bq_uri(dest) and str(dest).count(".") >= 2 else None


def _response(value: Any) -> Any:
    """The ``response`` column: a JSON string (STRING column) or already a dict (JSON column)."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else None
        except ValueError:
            return None
    return value


class BigQueryTables:
    """Input and output tables of Vertex jobs in one dataset, through a google-cloud-bigquery client.

    ``dataset`` is ``"project.dataset"`` (or ``"dataset"`` in ``project``); ``limit`` is the most
    requests one job may take, checked before any table is made.
    """

    def __init__(self, client: Any, dataset: str, *, project: str = "", prefix: str, limit: int):
        text = str(dataset).removeprefix("bq://").strip()
        parts = text.split(".")
        if len(parts) == 1 and project and parts[0]:
            parts = [project, parts[0]]
        if len(parts) != 2 or not all(parts):
            raise InputError(
                f"dataset must be 'project.dataset' (a BigQuery dataset), not {dataset!r}", field="dataset"
            )
        self.client = client
        self.dataset = ".".join(parts)
        self.prefix = prefix
        self.limit = limit

    def uri(self, table: str) -> str:
        return f"bq://{self.dataset}.{table}"

    def ours(self, uri: str) -> bool:
        """True for a table of this dataset named under the prefix (what a run may drop)."""
        if not is_bq_uri(uri):
            return False
        project, dataset, table = parse_bq_uri(uri)
        return f"{project}.{dataset}" == self.dataset and table.startswith(_escape(self.prefix) + "__")

    def output_uri(self, display_name: str) -> str:
        return self.uri(table_name(self.prefix, display_name, "output", uuid.uuid4().hex[:12]))

    # -- write ------------------------------------------------------------------------------
    def upload(self, data: BinaryIO, display_name: str) -> str:
        """A new input table holding gembatch request lines (JSONL bytes), written page by page."""
        count = sum(1 for raw in data if raw.strip())
        data.seek(0)
        self._check(count, display_name)
        lines = (json.loads(raw) for raw in io.TextIOWrapper(data, encoding="utf-8") if raw.strip())
        return self._write(lines, display_name)

    def upload_lines(self, lines: Iterable[Mapping[str, Any]], display_name: str) -> str:
        """Like :meth:`upload`, from ``{"key", "request"}`` dicts already in memory."""
        lines = list(lines)
        self._check(len(lines), display_name)
        return self._write(iter(lines), display_name)

    def _check(self, count: int, display_name: str) -> None:
        if count > self.limit:
            raise InputError(
                f"{display_name}: {count:,} requests in one job; Vertex takes at most {self.limit:,} "
                "(plan with catalog=vertex_catalog() or a smaller chunk_tokens)",
                field="chunk_tokens",
            )

    def _write(self, lines: Iterator[Mapping[str, Any]], display_name: str) -> str:
        from google.cloud import bigquery

        name = table_name(self.prefix, display_name, "input", uuid.uuid4().hex[:12])
        schema = [bigquery.SchemaField(KEY_COLUMN, "STRING", mode="REQUIRED"),
                  bigquery.SchemaField("request", "STRING", mode="REQUIRED")]  # fmt: skip
        table = self.client.create_table(bigquery.Table(f"{self.dataset}.{name}", schema=schema))
        page: list[dict[str, str]] = []
        size = 0
        for line in lines:
            request = json.dumps(line["request"], ensure_ascii=False, separators=(",", ":"))
            row = {KEY_COLUMN: str(line["key"]), "request": request}
            page.append(row)
            size += len(row["request"])
            if len(page) >= PAGE_ROWS or size >= _PAGE_BYTES:
                self._insert(table, page)
                page, size = [], 0
        if page:
            self._insert(table, page)
        return self.uri(name)

    def _insert(self, table: Any, rows: list[dict[str, str]]) -> None:
        # row ids are the keys: a page sent again after a dropped answer is not stored twice
        errors = self.client.insert_rows_json(table, rows, row_ids=[r[KEY_COLUMN] for r in rows])
        if errors:
            first = errors[0]
            row = rows[int(first.get("index", 0))][KEY_COLUMN] if isinstance(first, Mapping) else "?"
            raise InputError(f"BigQuery refused request row {row!r}: {first}", field="request", row=row)

    # -- read -------------------------------------------------------------------------------
    def iter_results(self, uri: str, page_size: int = PAGE_ROWS) -> Iterator[dict[str, Any]]:
        """gembatch response lines from an output table, one page of rows held at a time."""
        project, dataset, table = parse_bq_uri(uri)
        rows = self.client.list_rows(f"{project}.{dataset}.{table}", page_size=page_size)
        for page in rows.pages:
            for row in page:
                key = row.get(KEY_COLUMN)
                if key is None:
                    continue  # not a row gembatch wrote: it cannot be matched to an article
                status = str(row.get("status") or "")
                yield prediction_result(str(key), status, _response(row.get("response")))

    def iter_outcomes(self, uri: str, page_size: int = PAGE_ROWS) -> Iterator[dict[str, Any]]:
        """Like :meth:`iter_results` without the response text: a query reads each row's key, status,
        finish reason, block reason and token usage, so a run accounts for every article while
        its results stay in BigQuery."""
        project, dataset, table = parse_bq_uri(uri)
        sql = outcome_query(f"{project}.{dataset}.{table}", KEY_COLUMN)
        for page in self.client.query(sql).result(page_size=page_size).pages:
            for row in page:
                if row.get("k") is None:
                    continue
                status, finish, block = str(row.get("status") or ""), row.get("finish"), row.get("block")
                usage = _response(row.get("usage"))
                response: dict[str, Any] = {"usageMetadata": usage} if usage else {}
                if finish:
                    response["candidates"] = [{"finishReason": finish, "content": {"parts": []}}]
                if block:
                    response["promptFeedback"] = {"blockReason": block}
                yield prediction_result(str(row.get("k")), status, response if not status else None)

    def download(self, uri: str) -> bytes:
        """The output table as gembatch response lines (JSONL)."""
        out = io.BytesIO()
        for line in self.iter_results(uri):
            out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        return out.getvalue()

    def exists(self, uri: str) -> bool:
        from google.api_core.exceptions import NotFound

        project, dataset, table = parse_bq_uri(uri)
        try:
            self.client.get_table(f"{project}.{dataset}.{table}")
        except NotFound:
            return False
        return True

    # -- delete and list --------------------------------------------------------------------
    def drop(self, uri: str) -> None:
        """Delete a table; one that is already gone is not an error."""
        project, dataset, table = parse_bq_uri(uri)
        self.client.delete_table(f"{project}.{dataset}.{table}", not_found_ok=True)

    def drop_job_tables(self, job: Mapping[str, Any]) -> list[str]:
        """Drop the run's tables a job used: its input, and its output unless the job succeeded
        (a succeeded job's output holds results: it goes when the run has read it, or is kept)."""
        source = str(((job.get("inputConfig") or {}).get("bigquerySource") or {}).get("inputUri") or "")
        output = "" if job.get("state") == "JOB_STATE_SUCCEEDED" else str(output_table(job) or "")
        dropped = [uri for uri in (source, output) if uri and self.ours(uri)]
        for uri in dropped:
            self.drop(uri)
        return dropped

    def list_inputs(self, page_size: int = 100) -> Iterator[tuple[str, str]]:
        """The run input tables of the dataset, as ``(bq:// URI, display name)``."""
        for item in self.client.list_tables(self.dataset, page_size=page_size):
            display = display_of(self.prefix, str(item.table_id))
            if display is not None:
                yield self.uri(str(item.table_id)), display

    def list_tables(self, display_prefix: str = "gembatch/") -> list[str]:
        """The tables (inputs and outputs) of jobs whose display name starts with ``display_prefix``
        (default: every job under the prefix), as ``bq://`` URIs."""
        head = f"{_escape(self.prefix)}__{_escape(display_prefix.removeprefix('gembatch/'))}"
        return [self.uri(str(t.table_id)) for t in self.client.list_tables(self.dataset)
                if str(t.table_id).startswith(head)]  # fmt: skip

    def job_config(self, input_uri: str, display_name: str) -> dict[str, Any]:
        """The ``inputConfig`` and ``outputConfig`` of a job that reads ``input_uri``."""
        return {
            "inputConfig": {"instancesFormat": "bigquery", "bigquerySource": {"inputUri": input_uri}},
            "outputConfig": {"predictionsFormat": "bigquery",
                             "bigqueryDestination": {"outputUri": self.output_uri(display_name)}},
        }  # fmt: skip


def bigquery_client(project: str, *, credentials: Any = None, endpoint: str | None = None) -> Any:
    """A ``google.cloud.bigquery.Client`` (``endpoint``: a BigQuery emulator)."""
    from gembatch.errors import BackendError

    try:
        from google.cloud import bigquery
    except ImportError as exc:
        raise BackendError(
            "BigQuery input and output need google-cloud-bigquery: pip install 'gembatch-runner[vertex]'"
        ) from exc
    options = {"api_endpoint": endpoint} if endpoint else None
    return bigquery.Client(project=project or None, credentials=credentials, client_options=options)
