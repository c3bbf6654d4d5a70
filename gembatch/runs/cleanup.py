"""Crash-safe cleanup: nothing of a run stays at the service once the run no longer needs it.

Every upload and every delete is announced in the run store *before* the call and marked done
after it (``runs/store_cleanup``). A crash in between leaves a pending intent, settled by the next
driver step: a pending upload makes the driver list the service's files by the run's display-name
prefix and delete those no chunk needs (uploaded, but the job was never created); a pending delete
is tried again, with back-off while it fails. When a run is done, one sweep of the service's jobs
and files under the run's prefix removes whatever is left. Nothing still needed is ever deleted:
the input of a chunk not yet submitted or whose create is being confirmed, a job in flight or not
yet collected, an output file not yet read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from gembatch.runs.context import Context
from gembatch.runs.crash import crash_point
from gembatch.runs.states import FINISHED, State
from gembatch.transport.base import JobStatus

__all__ = [
    "CleanupReport",
    "Leftover",
    "announce_deletes",
    "announce_upload",
    "cleanup",
    "delete_now",
    "record_upload",
    "settle",
]


@dataclass(frozen=True)
class Leftover:
    """One thing of the run at the service: ``kind`` ``file`` or ``job``, and what cleanup did with it.

    ``action``: ``deleted``, ``would delete`` (dry run), ``kept`` (still needed: ``reason`` says
    why) or ``failed`` (the delete was refused or did not get through; tried again later).
    """

    kind: str
    name: str
    display_name: str
    action: str
    reason: str


@dataclass(frozen=True)
class CleanupReport:
    """What :meth:`gembatch.Run.cleanup` deleted (or would delete), kept and could not delete."""

    run_id: str
    dry_run: bool
    items: tuple[Leftover, ...] = field(default_factory=tuple)

    def _with(self, *actions: str) -> list[Leftover]:
        return [i for i in self.items if i.action in actions]

    @property
    def deleted(self) -> list[Leftover]:
        """Deleted, or with ``dry_run`` what would be deleted."""
        return self._with("deleted", "would delete")

    @property
    def kept(self) -> list[Leftover]:
        return self._with("kept")

    @property
    def failed(self) -> list[Leftover]:
        return self._with("failed")

    def to_dict(self) -> dict[str, Any]:
        """A plain JSON-able dict (what ``gembatch cleanup --json`` and the REST API return)."""
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "deleted": [asdict(i) for i in self.deleted],
            "kept": [asdict(i) for i in self.kept],
            "failed": [asdict(i) for i in self.failed],
        }


# -- intents around the driver's own calls ---------------------------------------------------
def announce_upload(ctx: Context, chunk_id: str, display: str) -> None:
    """Before an upload: if the process dies before :func:`record_upload`, the file is an orphan."""
    ctx.store.add_intent("upload", display, chunk_id, "input file upload")


def record_upload(ctx: Context, chunk_id: str, display: str, name: str) -> None:
    """The upload answered: the chunk owns ``name`` from now on (one transaction)."""
    with ctx.store.transaction():
        ctx.store.update_chunk(chunk_id, input_file=name)
        ctx.store.intent_done("upload", display)


def announce_deletes(ctx: Context, row: Any) -> None:
    """Inside a chunk's collection transaction: its output file and job are to be deleted."""
    cfg, led, cid = ctx.config, ctx.store, row["chunk_id"]
    if row["output_file"] and cfg.delete_output_files and cfg.results_in != "bigquery":
        led.add_intent("file", str(row["output_file"]), cid, "output file of a collected chunk")
    if row["batch_name"] and cfg.delete_collected_jobs:
        led.add_intent("job", str(row["batch_name"]), cid, "job of a collected chunk")


def settle(ctx: Context, chunk_id: str | None = None) -> int:
    """Carry out the pending deletes that are due (only ``chunk_id``'s if given); returns how many
    are still pending. Never raises for the service's sake: a failure is recorded and retried."""
    led = ctx.store
    for row in led.pending_intents("file", "job", due_at=time.time()):
        if chunk_id is None or row["chunk_id"] == chunk_id:
            reason = str(row["reason"] or "")
            delete_now(ctx, row["kind"], row["name"], chunk_id=row["chunk_id"], reason=reason)
    if chunk_id is None and led.pending_intents("upload"):
        try:
            _settle_uploads(ctx)
        except Exception as exc:  # the listing failed: the intents stay, the next step tries again
            led.event("cleanup_failed", f"listing files: {ctx.transport.classify(exc).summary()}")
    return led.leftovers()


def _settle_uploads(ctx: Context) -> None:
    """Uploads whose outcome was never recorded: delete the files they left that no chunk needs."""
    led = ctx.store
    pending = {r["name"]: r for r in led.pending_intents("upload")}
    needed = _needed(ctx, explicit=False)
    for kind, name, display, _ in _held(ctx, jobs=False):
        if display in pending and name not in needed["files"]:
            chunk = pending[display]["chunk_id"]
            delete_now(ctx, kind, name, chunk_id=chunk, reason="uploaded, but no job was created from it")
    with led.transaction():
        for display in pending:
            led.intent_done("upload", display)


def _retry_at(ctx: Context, tries: int) -> float:
    cfg = ctx.config
    return time.time() + min(cfg.backoff_max_s, cfg.backoff_base_s * 2 ** max(tries, 0))


def delete_now(
    ctx: Context, kind: str, name: str, *, chunk_id: str | None, reason: str, job: JobStatus | None = None
) -> str | None:
    """Announce, delete, mark done; returns None when it is gone, else why the delete failed."""
    led, transport = ctx.store, ctx.transport
    led.add_intent(kind, name, chunk_id, reason)  # first the intent, then the call
    try:
        if kind == "job":
            if job is not None and not job.state.done:
                transport.cancel(name)  # a job still running is cancelled before it is deleted
            transport.delete(name)
        else:
            transport.delete_file(name)
        crash_point("delete")
    except Exception as exc:
        failure = transport.classify(exc)
        # a file that is gone answers 403 (the service does not say missing from forbidden)
        gone = failure.not_found or (kind == "file" and failure.answered and failure.code == 403)
        if not gone:
            row = [r for r in led.pending_intents(kind) if r["name"] == name]
            tries = int(row[0]["tries"]) if row else 0
            led.intent_failed(kind, name, failure.summary(), _retry_at(ctx, tries))
            led.event("cleanup_failed", f"{kind} {name}: {failure.summary()}; will try again", chunk_id)
            return failure.summary()
    with led.transaction():
        led.intent_done(kind, name)
        led.event("cleanup", f"deleted {kind} {name} ({reason})", chunk_id)
    return None


# -- the service's view: what it holds for the run --------------------------------------------
def _held(ctx: Context, *, jobs: bool = True, files: bool = True) -> Iterator[tuple[str, str, str, Any]]:
    """``(kind, name, display name, job or None)`` of everything the service lists under the run's prefix."""
    prefix = f"gembatch/{ctx.config.run_id}/"
    transport = ctx.transport
    if jobs:
        for job in transport.list_jobs():
            if (job.display_name or "").startswith(prefix):
                yield "job", job.name, job.display_name or "", job
    lister = getattr(transport, "list_files", None)
    if files and lister is not None:
        for name, display in lister():
            if display.startswith(prefix):
                yield "file", name, display, None


def _needed(ctx: Context, *, explicit: bool) -> dict[str, dict[str, str]]:
    """Names the run still needs, each with the reason: ``files``, ``jobs`` and ``displays``
    (display names whose jobs are all kept: a create still being confirmed)."""
    led, cfg = ctx.store, ctx.config
    files: dict[str, str] = {}
    jobs: dict[str, str] = {}
    displays: dict[str, str] = {}
    for r in led.chunks_in(State.PLANNED, State.SUBMITTING, State.SUBMITTED):
        if r["input_file"]:
            files[r["input_file"]] = f"input of chunk {r['chunk_id']} ({r['state']})"
    for r in led.chunks_in(State.SUBMITTING):
        displays[ctx.display_name(r["chunk_id"], r["attempt"])] = "its create is being confirmed"
    for r in led.chunks_in(State.SUBMITTED, *FINISHED):
        if r["batch_name"]:
            jobs[r["batch_name"]] = f"job of chunk {r['chunk_id']} ({r['state']}, not yet collected)"
        if r["output_file"]:
            files[r["output_file"]] = f"output of chunk {r['chunk_id']}, not yet collected"
    for r in led.chunks_in(State.COLLECTED) if cfg.results_in == "bigquery" else ():
        if r["output_file"]:  # the run's results: even an explicit cleanup keeps them
            files[r["output_file"]] = "kept: results are left in BigQuery (results_in='bigquery')"
    if not explicit:  # the run's settings keep what the user asked to keep
        for r in led.chunks_in(State.COLLECTED):
            if r["batch_name"] and not cfg.delete_collected_jobs:
                jobs[r["batch_name"]] = "kept: delete_collected_jobs is off"
            if r["input_file"] and not cfg.delete_input_files:
                files[r["input_file"]] = "kept: delete_input_files is off"
    return {"files": files, "jobs": jobs, "displays": displays}


def cleanup(ctx: Context, *, dry_run: bool = False, explicit: bool = True) -> CleanupReport:
    """List what the service holds for the run and delete what the run no longer needs.

    ``explicit`` (the ``cleanup`` command): every collected job and file goes, whatever the run's
    delete settings; otherwise (the automatic sweep at the end of a run) those settings are kept.
    """
    led = ctx.store
    needed = _needed(ctx, explicit=explicit)
    items: list[Leftover] = []
    seen: set[tuple[str, str]] = set()
    candidates: list[tuple[str, str, str, Any, str]] = []
    try:
        held = list(_held(ctx))
    except Exception as exc:
        from gembatch.runs.jobs import service_error

        raise service_error(ctx.transport, exc, "list the run's jobs and files") from None
    for kind, name, display, job in held:
        seen.add((kind, name))
        keep = needed["displays"].get(display) if kind == "job" else None
        keep = keep or (needed["jobs"] if kind == "job" else needed["files"]).get(name)
        if keep:
            items.append(Leftover(kind, name, display, "kept", keep))
        else:
            candidates.append((kind, name, display, job, _why(ctx, kind, display)))
            out = job.output_file if job is not None else None
            if out and out not in needed["files"] and ctx.transport.file_exists(out):
                seen.add(("file", out))
                candidates.append(("file", out, "", None, f"output of {name}"))
    for row in led.pending_intents("file", "job"):  # known to the ledger, not listed (output files)
        kind, name = row["kind"], row["name"]
        if (kind, name) in seen or kind == "job" or not ctx.transport.file_exists(name):
            if (kind, name) not in seen and not dry_run:
                led.intent_done(kind, name)  # not at the service any more: nothing left to do
            continue
        candidates.append((kind, name, "", None, str(row["reason"] or "")))
    for kind, name, display, job, reason in candidates:
        if dry_run:
            items.append(Leftover(kind, name, display, "would delete", reason))
            continue
        error = delete_now(ctx, kind, name, chunk_id=None, reason=reason, job=job)
        items.append(Leftover(kind, name, display, "failed" if error else "deleted", error or reason))
    if not dry_run:
        with led.transaction():
            for row in led.pending_intents("upload"):
                led.intent_done("upload", row["name"])  # the listing above settled them
            led.set_meta("swept", time.time())
    return CleanupReport(ctx.config.run_id, dry_run, tuple(items))


def _why(ctx: Context, kind: str, display: str) -> str:
    parts = display.split("/")
    chunk = parts[2] if len(parts) > 3 else ""
    row = ctx.store.chunk_by_display(display) if chunk else []
    if not row:
        return f"{kind} under the run's prefix that no chunk of the run knows"
    state = row[0]["state"]
    if kind == "file":
        return f"input of chunk {chunk}, which is {state}: no longer needed"
    if row[0]["batch_name"]:
        return f"job of chunk {chunk} ({state}); not the job the run recorded, or already collected"
    return f"job of chunk {chunk} ({state}), no longer needed"
