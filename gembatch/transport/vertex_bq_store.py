"""The BigQuery SQL of the Vertex backend's tables (kept beside the other stores' SQL).

>>> outcome_query("p.ds.t", "gembatch_key").split(" FROM ")[1]
'`p.ds.t`'
"""

from __future__ import annotations

__all__ = ["outcome_query"]


def outcome_query(table: str, key_column: str) -> str:
    """Each output row's key (``k``), status, token usage, finish and block reasons: no response text.

    Works on a ``response`` column of type STRING (JSON text) or JSON.
    """
    return (
        f"SELECT {key_column} AS k, status, JSON_QUERY(response, '$.usageMetadata') AS usage, "
        "JSON_VALUE(response, '$.candidates[0].finishReason') AS finish, "
        "JSON_VALUE(response, '$.promptFeedback.blockReason') AS block "
        f"FROM `{table}`"
    )
