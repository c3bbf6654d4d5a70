"""Plan and write request files for inputs streamed in batches (Arrow record batches, query pages).

:func:`plan_stream` walks the articles once, batch by batch: it estimates each article's tokens
(vectorised per batch), closes a chunk when the next article would pass the token cap, the
requests-per-job limit or the file-size limit, and (with ``out_dir``) writes each chunk's request
file as it goes. Memory is bounded by one batch and one pending line, never by the number of
articles; the plan keeps one small row per chunk.

The plan of a named source (a Parquet path, a directory of Parquet files, an
:class:`~gembatch.inputs.stream.ArticleStream`) is what ``gb.Run.create(run_dir, source, plan)``
turns into a run: it carries the prompt, the model and the settings a run is defined by.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from gembatch.errors import BudgetExceeded, InputError
from gembatch.inputs.request_lines import RequestSpec, iter_request_lines
from gembatch.inputs.stream import as_stream, is_stream_source
from gembatch.inputs.tokens import TokenEstimator, request_chars
from gembatch.planning.catalog import Catalog, ModelInfo, default_catalog

__all__ = ["StreamChunk", "StreamPlan", "article_costs", "plan_stream"]

#: lines → encoded JSONL lines (each ending in a newline); the default writes ``{"key", "request"}``.
LineFormat = Callable[[Iterable[Mapping[str, Any]]], Iterator[bytes]]


def _gembatch_lines(lines: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    for line in lines:
        yield json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True)
class StreamChunk:
    """One planned job: its articles' count, estimates, and the request file written for it."""

    chunk_id: str
    articles: int
    first_article: str
    est_input_tokens: int
    est_output_tokens: int
    est_cost_usd: float
    bytes: int
    path: Path | None = None


@dataclass
class StreamPlan:
    """Chunks of a streamed input, in order; totals over them; what a run over it is defined by."""

    model: str
    chunks: list[StreamChunk] = field(default_factory=list)
    spec: RequestSpec | None = None
    model_info: ModelInfo | None = None
    tier: str = "tier1"
    policy: str = "rolling"  # first-fit in plan order: capacity freed by any job is used at once
    headroom: float = 0.9
    budget_usd: float | None = None
    quota_tokens: int = 0
    chunk_tokens: int = 0
    estimator: TokenEstimator | None = field(default=None, repr=False)

    @property
    def articles(self) -> int:
        return sum(c.articles for c in self.chunks)

    @property
    def est_input_tokens(self) -> int:
        return sum(c.est_input_tokens for c in self.chunks)

    @property
    def est_cost_usd(self) -> float:
        return sum(c.est_cost_usd for c in self.chunks)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for c in self.chunks)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame([c.__dict__ for c in self.chunks]).set_index("chunk_id")

    def __repr__(self) -> str:
        return (
            f"StreamPlan: {self.articles:,} articles → {len(self.chunks):,} jobs · {self.model} · "
            f"{self.est_input_tokens:,} input tokens · ${self.est_cost_usd:,.2f} batch · {self.bytes:,} bytes"
        )


class _Writer:
    """The open chunk: counts, and its request file when writing."""

    def __init__(self, out_dir: Path | None, index: int):
        self.chunk_id = f"c{index:05d}"
        self.path = None if out_dir is None else out_dir / f"{self.chunk_id}.jsonl"
        self.fh: IO[bytes] | None = None if self.path is None else self.path.open("wb")
        self.n = self.tokens = self.out = self.bytes = 0
        self.cost = 0.0
        self.first = ""

    def add(self, key: str, data: bytes, tokens: int, out: int, cost: float) -> None:
        if self.fh is not None:
            self.fh.write(data)
        self.first = self.first or key
        self.n += 1
        self.tokens += tokens
        self.out += out
        self.bytes += len(data)
        self.cost += cost

    def close(self) -> StreamChunk:
        if self.fh is not None:
            self.fh.close()
        return StreamChunk(self.chunk_id, self.n, self.first, self.tokens, self.out, self.cost, self.bytes,
                           self.path)  # fmt: skip


def plan_stream(
    batches: Iterable[pd.DataFrame] | Any,
    spec: RequestSpec,
    *,
    tier: str = "tier1",
    headroom: float = 0.9,
    budget_usd: float | None = None,
    chunk_tokens: int = 2_000_000,
    max_requests: int = 200_000,
    file_limit_bytes: int | None = None,
    catalog: Catalog | None = None,
    estimator: TokenEstimator | None = None,
    out_dir: str | Path | None = None,
    line_format: LineFormat = _gembatch_lines,
) -> StreamPlan:
    """Chunks for articles arriving in frames (index ``article_id``), optionally writing their files.

    A chunk never holds more than ``chunk_tokens`` estimated input tokens, ``max_requests``
    articles or ``file_limit_bytes`` bytes (default: the model's file limit); an article over the
    token cap or the file limit on its own is an :class:`InputError` naming it.

    ``batches``: frames indexed by ``article_id``, or a source read batch by batch (a Parquet path,
    a directory of Parquet files, an :class:`~gembatch.inputs.stream.ArticleStream`; the prompt's
    extra columns are read with the text). ``tier``, ``headroom`` and ``budget_usd`` are the
    run's, as in :func:`gembatch.plan`; a chunk never passes the enqueued-token quota × headroom.
    """
    info: ModelInfo = (catalog or default_catalog()).get(spec.model)
    estimator = estimator or TokenEstimator()
    if is_stream_source(batches):
        batches = as_stream(batches).with_columns(spec.template.fields)
    quota = info.enqueued_limit(tier)
    if not 0 < headroom <= 1:
        raise InputError(f"headroom must be in (0, 1], not {headroom}", field="headroom")
    chunk_tokens = max(1, min(int(chunk_tokens), int(quota * headroom)))
    file_limit = int(file_limit_bytes or info.file_limit_bytes)
    folder = None if out_dir is None else Path(out_dir)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    plan = StreamPlan(model=info.id, spec=spec, model_info=info, tier=tier, headroom=float(headroom),
                      budget_usd=budget_usd, quota_tokens=quota, chunk_tokens=chunk_tokens,
                      estimator=estimator)  # fmt: skip
    out_tokens = int(spec.expected_output_tokens) + int(spec.thinking_tokens or 0)
    current = _Writer(folder, 1)
    for frame in batches:
        tokens = estimator.tokens(request_chars(frame, spec))
        costs = article_costs(info, tokens, out_tokens)
        for i, line in enumerate(iter_request_lines(frame, spec)):
            data = b"".join(line_format((line,)))
            key, t = str(line["key"]), int(tokens[i])
            if t > chunk_tokens or len(data) > file_limit:
                raise InputError(
                    f"article {key!r}: ~{t:,} tokens / {len(data):,} bytes do not fit one job "
                    f"({chunk_tokens:,} tokens, {file_limit:,} bytes)",
                    row=key,
                )
            if current.n and (current.tokens + t > chunk_tokens or current.n >= max_requests
                              or current.bytes + len(data) > file_limit):  # fmt: skip
                plan.chunks.append(current.close())
                current = _Writer(folder, len(plan.chunks) + 1)
            current.add(key, data, t, out_tokens, float(costs[i]))
    if current.n:
        plan.chunks.append(current.close())
    elif current.path is not None:
        current.close()
        current.path.unlink(missing_ok=True)
    if budget_usd is not None and plan.est_cost_usd > budget_usd:
        raise BudgetExceeded(
            f"estimated batch cost ${plan.est_cost_usd:,.2f} for {plan.articles:,} articles is over "
            f"budget_usd={budget_usd:g}; raise the budget, plan fewer articles or pick a cheaper model"
        )
    return plan


def article_costs(info: ModelInfo, tokens: np.ndarray, out_tokens: int) -> np.ndarray:
    """Batch USD per article (vectorised; the long-context price where a prompt passes its threshold)."""
    pin, pout = info.prices("batch", 0)
    cost = (tokens * pin + out_tokens * pout) / 1e6
    if info.long_context_threshold is not None:
        long = tokens > info.long_context_threshold
        if long.any():
            lin, lout = info.prices("batch", info.long_context_threshold + 1)
            cost = np.where(long, (tokens * lin + out_tokens * lout) / 1e6, cost)
    return np.asarray(cost, dtype=np.float64)
