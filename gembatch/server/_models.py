"""Request bodies of the REST API, validated by pydantic (4xx answers say what is wrong)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ARTICLES_JSON = 50_000


class RunParams(BaseModel):
    """How to turn articles into requests and how to schedule them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    model: str = Field("gemini-3.5-flash-lite", min_length=1, max_length=200)
    tier: Literal["tier1", "tier2", "tier3"] = "tier1"
    prompt: str = Field("{text}", min_length=1, max_length=100_000)
    system_instruction: str | None = Field(None, max_length=100_000)
    output_schema: dict[str, Any] | None = Field(
        None, alias="schema", description="JSON schema (Gemini Schema) of the structured output"
    )
    policy: Literal["rolling", "waves"] = "rolling"
    mode: Literal["batch", "realtime"] = "batch"
    budget_usd: float | None = Field(None, gt=0)
    headroom: float = Field(0.9, gt=0, le=1)
    max_attempts: int = Field(3, ge=1, le=10)
    temperature: float | None = Field(None, ge=0, le=2)
    max_output_tokens: int | None = Field(None, ge=1)
    thinking_budget: int | None = Field(None, ge=-1)
    id_col: str | None = None
    text_col: str | None = None


class CreateParams(RunParams):
    """Run parameters plus the run's id (the ``params`` part of a multipart upload)."""

    run_id: str | None = Field(None, max_length=64, description="default: generated")


_ARTICLES = Field(
    min_length=1,
    max_length=MAX_ARTICLES_JSON,
    description="strings, or objects with an id (id/article_id) and a text (text/content)",
)


class ArticlesBody(RunParams):
    """Parameters plus the articles themselves."""

    articles: list[dict[str, Any] | str] = _ARTICLES


class CreateRunBody(CreateParams):
    """A new run: parameters, run id and the articles."""

    articles: list[dict[str, Any] | str] = _ARTICLES


class JobBody(BaseModel):
    """One batch job without a run directory (the seed's simple API)."""

    model_config = ConfigDict(extra="forbid")

    contents: list[dict[str, Any] | str] = Field(min_length=1, max_length=MAX_ARTICLES_JSON)
    model: str = Field("gemini-3.5-flash-lite", min_length=1, max_length=200)
    prompt: str = Field("{text}", min_length=1, max_length=100_000)
    display_name: str = Field("gembatch-job", min_length=1, max_length=128)
