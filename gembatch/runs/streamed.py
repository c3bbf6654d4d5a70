"""Runs over inputs larger than memory: a streamed source turned into a ledger batch by batch.

``gb.Run.create(run_dir, source, plan)`` with a Parquet file, a directory of Parquet files or an
:class:`~gembatch.inputs.stream.ArticleStream`, and the :class:`~gembatch.planning.stream_plan.StreamPlan`
made from it. The source is read one batch at a time: each batch's articles go into the ledger (id,
position, hashes, estimates, planned chunk) and into the run's input snapshot (Parquet, small row
groups), and the input fingerprint is hashed as it goes. Identical requests are found by the ledger,
not in memory; submission reads only the row groups that hold a chunk's articles. Everything else
(exactly-once submission, collection, crash safety) is the run's usual path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NoReturn

from gembatch.errors import InputError
from gembatch.inputs.stream import ArticleStream, as_stream, is_stream_source
from gembatch.runs.config import ARTICLES_FILE, LEDGER_FILE
from gembatch.runs.context import STREAM_META
from gembatch.runs.setup import (
    InputDigest,
    defining_config,
    fingerprints,
    make_config,
    plan_fingerprints,
    request_hashes,
    text_hashes,
)
from gembatch.runs.store import RunStore

__all__ = ["is_streamed", "new_stream_ledger", "source_fingerprints", "stream_fingerprints"]

ROW_GROUP = 4096


def _checked_plan(plan: Any) -> Any:
    from gembatch.planning.stream_plan import StreamPlan

    if not isinstance(plan, StreamPlan) or plan.spec is None or plan.model_info is None:
        raise InputError(
            "a streamed input needs the plan made from it: plan = gb.plan_stream(source, spec) "
            f"(got {type(plan).__name__})",
            field="plan",
        )
    return plan


def is_streamed(source: Any, plan: Any) -> bool:
    """True when ``Run.create`` reads ``source`` batch by batch; a plan of the other kind is refused."""
    from gembatch.planning.stream_plan import StreamPlan

    if is_stream_source(source):
        _checked_plan(plan)
        return True
    if isinstance(plan, StreamPlan):
        raise InputError(
            "this plan was made by gb.plan_stream: create the run from the same streamed source (a "
            "Parquet path, a directory or a gb.ArticleStream), or plan the frame with gb.plan",
            field="plan",
        )
    return False


def _stream(source: Any, plan: Any) -> ArticleStream:
    return as_stream(source).with_columns(plan.spec.template.fields).without_unique_check()


def stream_fingerprints(source: Any, plan: Any, defining: dict[str, Any]) -> dict[str, str]:
    """The run fingerprints of a streamed source, hashed batch by batch (for reopening)."""
    plan = _checked_plan(plan)
    digest = InputDigest()
    for frame in _stream(source, plan):
        digest.update(frame.index.tolist(), text_hashes(frame))
    return plan_fingerprints(digest.hexdigest(), plan, defining)


def source_fingerprints(source: Any, plan: Any, defining: dict[str, Any]) -> tuple[dict[str, str], Any]:
    """The fingerprints of a frame or a streamed source, and the plan older runs' fingerprints need
    (``None`` for a streamed source: no run made from one predates the current fingerprints)."""
    if is_stream_source(source):
        return stream_fingerprints(source, plan, defining), None
    return fingerprints(source, plan, defining), plan


class _Chunks:
    """Walks the plan's chunks alongside the source, checking that the plan was made from it."""

    def __init__(self, plan: Any, where: str):
        self.chunks = iter(plan.chunks)
        self.left, self.current, self.where = 0, "", where

    def label(self, aid: str, row: int) -> str:
        if self.left == 0:
            chunk = next(self.chunks, None)
            if chunk is None or chunk.first_article != aid:
                planned = (
                    "no more articles"
                    if chunk is None
                    else f"{chunk.chunk_id} starting at {chunk.first_article!r}"
                )
                self.fail(f"row {row} (article {aid!r}) where the plan has {planned}")
            self.current, self.left = chunk.chunk_id, int(chunk.articles)
        self.left -= 1
        return self.current

    def finish(self, rows: int) -> None:
        rest = next(self.chunks, None)
        if self.left or rest is not None:
            self.fail(f"the source ends after {rows:,} articles, before the plan does")

    def fail(self, what: str) -> NoReturn:
        raise InputError(
            f"the plan was not made from {self.where}: {what}. Plan this source again with "
            "gb.plan_stream(source, spec) and create the run with that plan",
            field="plan",
        )


def new_stream_ledger(
    run_dir: Path,
    source: Any,
    plan: Any,
    *,
    max_attempts: int,
    run_id: str | None,
    budget_usd: float | None = None,
    **knobs: Any,
) -> RunStore:
    """Read ``source`` once into the ledger and the input snapshot; the run's config is committed last."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gembatch.inputs.tokens import TokenEstimator, request_chars
    from gembatch.planning.stream_plan import article_costs

    plan = _checked_plan(plan)
    # jobs go as files: an inline job's answers come back inside the job listing, every finished
    # job's at once, where a file job's are downloaded one job at a time
    knobs.setdefault("inline_limit_bytes", 0)
    stream = _stream(source, plan)
    spec, info = plan.spec, plan.model_info
    defining = defining_config(plan, max_attempts, budget_usd)
    estimator = plan.estimator or TokenEstimator()
    out_tokens = int(spec.expected_output_tokens) + int(spec.thinking_tokens or 0)
    snapshot, part = run_dir / ARTICLES_FILE, run_dir / f"{ARTICLES_FILE}.part"
    led = RunStore(run_dir / LEDGER_FILE)
    digest, walk = InputDigest(), _Chunks(plan, os.fspath(stream.path))
    config = make_config(run_dir, plan, defining, {}, run_id=run_id, chunk_tokens=1, **knobs)
    writer: Any = None
    seq = 0
    try:
        with led.transaction():
            for frame in stream:
                ids = [str(i) for i in frame.index.tolist()]
                known = led.known_ids(ids)
                if known:
                    at = next(i for i, a in enumerate(ids) if a in known)
                    raise InputError(f"row {seq + at}: article id {ids[at]!r} appears twice",
                                     row=seq + at, field=stream.id_col)  # fmt: skip
                content = text_hashes(frame)
                digest.update(ids, content)
                tokens = estimator.tokens(request_chars(frame, spec))
                costs = article_costs(info, tokens, out_tokens)
                labels = [walk.label(a, seq + i) for i, a in enumerate(ids)]
                led.add_planned_articles(
                    zip(ids, range(seq, seq + len(ids)), content, request_hashes(frame, plan, content), ids,
                        tokens.tolist(), [out_tokens] * len(ids), costs.tolist(), labels, strict=True)
                )  # fmt: skip
                table = pa.Table.from_pandas(frame, preserve_index=True)
                if writer is None:
                    writer = pq.ParquetWriter(part, table.schema)
                writer.write_table(table.cast(writer.schema), row_group_size=ROW_GROUP)
                seq += len(ids)
            if seq == 0:
                raise InputError(f"no articles: {os.fspath(stream.path)!r} is empty")
            walk.finish(seq)
            dups = led.mark_representatives()
            top = 1
            for chunk in plan.chunks:  # plan order: the scheduler submits first-fit in this order
                reps, est_in, est_out, cost = led.planned_representatives(chunk.chunk_id)
                if not reps:
                    continue  # every article repeats a request another chunk sends
                top = max(top, est_in)
                led.add_chunk(
                    chunk.chunk_id,
                    attempt=1,
                    wave=1,
                    model=config.model,
                    display_name=f"gembatch/{config.run_id}/{chunk.chunk_id}/1",
                    article_ids=reps,
                    est_input_tokens=est_in,
                    est_output_tokens=est_out,
                    est_cost_usd=cost,
                )
            led.unplan_followers()
            config.fingerprints = plan_fingerprints(digest.hexdigest(), plan, defining)
            config.chunk_tokens = top
            writer.close()
            writer = None
            os.replace(part, snapshot)
            led.set_meta(STREAM_META, {"row_group": ROW_GROUP})
            led.set_meta("config", config.to_dict())
            led.event("created", f"{seq} articles streamed ({dups} identical requests sent once), "
                      f"{len(plan.chunks)} chunks")  # fmt: skip
    except BaseException:
        if writer is not None:
            writer.close()
        part.unlink(missing_ok=True)
        led.close()
        for name in (LEDGER_FILE, f"{LEDGER_FILE}-wal", f"{LEDGER_FILE}-shm"):
            (run_dir / name).unlink(missing_ok=True)
        raise
    return led
