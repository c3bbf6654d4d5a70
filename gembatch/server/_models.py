"""Request bodies of the REST API: each field is a :class:`~gembatch.RunRequest` field of the same name.

pydantic checks shapes and sizes (422 on a wrong type); the rules (ranges, known policies and
modes, budgets) are the request's own, so every face refuses the same things the same way.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gembatch.errors import InputError
from gembatch.planning.catalog import DEFAULT_MODEL

MAX_ARTICLES_JSON = 50_000
# RunRequest fields a request body cannot set: the articles come as ``articles`` or a file part;
# server-side paths (prompt/system files, catalogue) and Python objects stay with the operator.
NOT_IN_BODY = (
    "inputs", "prompt_file", "system_file", "catalog", "estimator", "run_options", "cache_dir",
)  # fmt: skip


class RunParams(BaseModel):
    """How to turn articles into requests and how to schedule them (unset: the RunRequest default)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str | None = Field(None, min_length=1, max_length=200, description=f"default {DEFAULT_MODEL}")
    tier: str | None = Field(None, max_length=20, description="tier1 (default), tier2, tier3")
    prompt: str | None = Field(None, min_length=1, max_length=100_000, description="default {text}")
    system_instruction: str | None = Field(None, max_length=100_000)
    output_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON schema (Gemini Schema) of the structured output"
    )
    temperature: float | None = None
    max_output_tokens: int | None = None
    thinking_budget: int | None = None
    expected_output_tokens: int | None = None
    expected_thinking_tokens: int | None = None
    chunk_tokens: int | None = None
    inline: bool | None = None
    billing_date: str | None = Field(
        None, max_length=40, description="price date, YYYY-MM-DD (default today)"
    )
    budget_usd: float | None = Field(None, description="dollars; checked against the cost of the mode")
    policy: str | None = Field(None, max_length=20, description="tail (default), rolling or waves")
    headroom: float | None = Field(None, description="fraction of the quota to use (default 0.9)")
    mode: str | None = Field(None, max_length=20, description="batch (default) or realtime")
    realtime: dict[str, Any] | None = Field(None, description="real-time options: rpm, tpm, ...")
    max_attempts: int | None = None
    pending_limit_s: float | None = None
    cancel_stale: bool | None = None
    cache: bool | None = Field(None, description="take answers from the response cache (default true)")
    deadline: str | None = Field(None, max_length=40, description="a time (16:00) or a duration (2h)")
    deadline_usd: float | None = Field(None, description="the most the switch to real time may cost")
    id_col: str | None = Field(None, max_length=200)
    text_col: str | None = Field(None, max_length=200)
    backend: str | None = Field(
        None, max_length=40, description="gemini, emulator, vertex or vertex-emulator (default: the server's)"
    )
    project: str | None = Field(None, max_length=100, description="Vertex: the Google Cloud project")
    location: str | None = Field(None, max_length=60, description="Vertex: region, e.g. us-central1")
    bucket: str | None = Field(None, max_length=222, description="Vertex: bucket for inputs and outputs")
    dataset: str | None = Field(None, max_length=1024, description="Vertex: BigQuery dataset")
    query: str | None = Field(
        None, min_length=1, max_length=100_000, description="articles from a BigQuery query (needs dataset)"
    )
    results_in: str | None = Field(
        None, max_length=20, description="local (default) or bigquery: keep the output tables in the dataset"
    )

    def request_fields(self) -> dict[str, Any]:
        """The RunRequest keyword arguments this body sets (unset ones keep the request's defaults)."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"articles", "inputs"})


class CreateParams(RunParams):
    """Run parameters plus the run's id (the ``params`` part of a multipart upload)."""

    run_id: str | None = Field(None, max_length=64, description="default: generated")


_ARTICLES = Field(
    None,
    min_length=1,
    max_length=MAX_ARTICLES_JSON,
    description="strings, or objects with an id (id/article_id) and a text (text/content)",
)
_TABLE = Field(
    None,
    max_length=1100,
    pattern=r"^bq://[^\s]+$",
    description="instead of articles: a BigQuery table, bq://project.dataset.table (needs dataset)",
)


class _Source:
    """``articles``, or a BigQuery table in ``inputs`` (or ``query``): what the RunRequest reads."""

    articles: list[dict[str, Any] | str] | None
    inputs: str | None

    def source(self) -> Any:
        if self.articles is not None and self.inputs is not None:
            raise InputError("give articles or inputs (a bq:// table), not both", field="inputs")
        return self.articles if self.articles is not None else self.inputs


class ArticlesBody(_Source, RunParams):
    """Parameters plus the articles themselves (or where they are in BigQuery)."""

    articles: list[dict[str, Any] | str] | None = _ARTICLES
    inputs: str | None = _TABLE


class CreateRunBody(_Source, CreateParams):
    """A new run: parameters, run id and the articles (or where they are in BigQuery)."""

    articles: list[dict[str, Any] | str] | None = _ARTICLES
    inputs: str | None = _TABLE


class JobBody(BaseModel):
    """One batch job without a run directory (the simple single-job API)."""

    model_config = ConfigDict(extra="forbid")

    contents: list[dict[str, Any] | str] = Field(min_length=1, max_length=MAX_ARTICLES_JSON)
    model: str = Field("gemini-3.5-flash-lite", min_length=1, max_length=200)
    prompt: str = Field("{text}", min_length=1, max_length=100_000)
    display_name: str = Field("gembatch-job", min_length=1, max_length=128)


class BudgetBody(BaseModel):
    """A run's new budget: dollars, or null for none (``POST /v1/runs/{id}/set-budget``)."""

    model_config = ConfigDict(extra="forbid")

    budget_usd: float | None = Field(..., description="dollars; null removes the budget")


class DeadlineBody(BaseModel):
    """A run's deadline (``POST /v1/runs/{id}/set-deadline``): a time such as ``"16:00"`` or
    ``"2026-12-01T16:00"``, a duration such as ``"2h"``, or null to remove it."""

    model_config = ConfigDict(extra="forbid")

    deadline: str | None = Field(..., max_length=64, description="a time, a duration, or null")
    deadline_usd: float | None = Field(None, description="the most the switch to real time may cost")


class RealtimeBody(BaseModel):
    """Options of ``POST /v1/runs/{id}/finish-realtime`` (unset: the catalogue's limits)."""

    model_config = ConfigDict(extra="forbid")

    rpm: int | None = Field(None, ge=1, description="requests per minute")
    tpm: int | None = Field(None, ge=1, description="input tokens per minute")
    max_concurrency: int | None = Field(None, ge=1, le=1000)

    def options(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)
