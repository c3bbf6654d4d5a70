"""Where a :class:`~gembatch.RunRequest`'s articles come from: a file or frame, a BigQuery table
(``bq://project.dataset.table``) or a BigQuery query, and where its results stay.

A BigQuery source is read with :func:`gembatch.read_bigquery` through the run's own transport (a
Vertex backend with a dataset, or the vertex-emulator's BigQuery stand-in), so the articles and the
jobs see the same BigQuery.
"""

from __future__ import annotations

from typing import Any

from gembatch.errors import InputError

__all__ = ["BQ_PREFIX", "RESULTS_IN", "check_results_in", "check_source", "is_bigquery", "read_source"]

BQ_PREFIX = "bq://"
RESULTS_IN = ("local", "bigquery")
_NEEDS_DATASET = (
    "add --dataset PROJECT.DATASET with --backend vertex or vertex-emulator "
    "(REST/Python: backend= and dataset=)"
)


def is_bigquery(inputs: Any, query: Any = None) -> bool:
    """The articles come from BigQuery: a ``bq://`` table or a query."""
    return query is not None or (isinstance(inputs, str) and inputs.strip().startswith(BQ_PREFIX))


def check_source(inputs: Any, query: Any, backend: Any, dataset: Any) -> None:
    """One :class:`InputError` naming the field when the source is missing, doubled or unreadable."""
    if inputs is None and query is None:
        raise InputError(
            "inputs is required: a file path, a bq://project.dataset.table, a DataFrame or a list "
            "of articles (or query=)",
            field="inputs",
        )
    if query is not None:
        if not isinstance(query, str) or not query.strip():
            raise InputError("query must be a standard-SQL SELECT, not empty", field="query")
        if inputs is not None:
            raise InputError("give inputs (a file or bq:// table) or query, not both", field="query")
    if not is_bigquery(inputs, query):
        return
    what = "a query" if query is not None else f"the BigQuery input {str(inputs).strip()!r}"
    if not str(backend or "").startswith("vertex") or not dataset:
        raise InputError(f"{what} needs a backend with BigQuery: {_NEEDS_DATASET}",
                         field="query" if query is not None else "inputs")  # fmt: skip
    if query is None:
        name = str(inputs).strip().removeprefix(BQ_PREFIX)
        if name.count(".") != 2 or not all(name.split(".")):
            raise InputError(
                f"{str(inputs).strip()!r} is not a BigQuery table: use bq://project.dataset.table",
                field="inputs",
            )


def check_results_in(value: Any, backend: Any, dataset: Any) -> None:
    """Refuse an unknown ``results_in``, and ``"bigquery"`` with a backend named without a dataset."""
    if value is None:
        return
    if value not in RESULTS_IN:
        raise InputError(f"results_in must be 'local' or 'bigquery', not {value!r}", field="results_in")
    if value == "bigquery" and backend is not None and (not str(backend).startswith("vertex") or not dataset):
        raise InputError(
            f"results_in='bigquery' needs a BigQuery dataset: {_NEEDS_DATASET}", field="results_in"
        )


def read_source(
    inputs: Any,
    query: str | None,
    client: Any,
    *,
    id_col: str | None,
    text_col: str | None,
    model: str | None,
    catalog: Any,
    estimator: Any = None,
) -> Any:
    """The articles frame of a file, frame, list, ``bq://`` table or query (read once, checked)."""
    from gembatch.inputs.articles import is_articles_frame, read_articles

    if not is_bigquery(inputs, query):
        if is_articles_frame(inputs):
            return inputs
        return read_articles(inputs, id_col, text_col, model=model, catalog=catalog, estimator=estimator)
    from gembatch.inputs.bigquery import read_bigquery

    if getattr(client, "bq", None) is None:
        raise InputError(f"the articles are in BigQuery and this backend has none: {_NEEDS_DATASET}",
                         field="query" if query is not None else "inputs")  # fmt: skip
    table = None if query is not None else str(inputs).strip().removeprefix(BQ_PREFIX)
    return read_bigquery(table, query, id_col=id_col or "id", text_col=text_col or "text",
                         client=client, model=model, catalog=catalog)  # fmt: skip
