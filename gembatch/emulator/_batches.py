"""Batch jobs: create (with quota and limits), get, list, cancel, delete, and progress over time."""

from __future__ import annotations

import json
import logging
import queue
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gembatch.emulator._checks import check_inline
from gembatch.emulator._clock import Clock
from gembatch.emulator._errors import ApiError, invalid, quota_error
from gembatch.emulator._faults import FaultBook, Profile
from gembatch.emulator._files import FileStore
from gembatch.emulator._jobs import Job, roll, schedule, vertex_expiry
from gembatch.emulator._lineup import Lineup, Served
from gembatch.emulator._models_api import batch_line_answer
from gembatch.emulator._output import InputScan, generate_output, stage_input
from gembatch.emulator._persist import new_id, read_json, write_json
from gembatch.emulator._reply import page_token as make_token
from gembatch.emulator._reply import read_page_token
from gembatch.emulator._stats import Stats
from gembatch.errors import CatalogError
from gembatch.planning.catalog import Catalog

__all__ = ["BatchService"]

logger = logging.getLogger("gembatch.emulator")

DEFAULT_PAGE = 50
MAX_PAGE = 1000
_INLINE_CACHE = 64  # parsed inline outputs kept for repeated get/list of finished jobs


class BatchService:
    """All batch jobs of one emulator; persisted as one JSON file per job under ``root``."""

    def __init__(
        self,
        root: Path,
        *,
        files: FileStore,
        clock: Clock,
        catalog: Catalog,
        tier: str,
        profile: Profile,
        seed: int,
        faults: FaultBook,
        stats: Stats,
        own_host: Callable[[], str] = lambda: "",
    ):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.files, self.clock, self.catalog, self.tier = files, clock, catalog, tier
        self.lineup = Lineup(catalog)
        self.own_host = own_host  # host:port of this emulator, for the file URIs it issued
        self.profile, self.seed, self.faults, self.stats = profile, seed, faults, stats
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}
        self._line_tokens: dict[str, array[int]] = {}
        self._inline_cache: OrderedDict[str, list[Any]] = OrderedDict()
        self._work: queue.Queue[str] = queue.Queue()
        self._gen_locks: dict[str, threading.Lock] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for path in self.root.glob("*.job.json"):
            job = Job.from_dict(read_json(path))
            self._jobs[job.id] = job
        self._seq = max((j.seq for j in self._jobs.values()), default=0)
        for job in sorted(self._jobs.values(), key=lambda j: j.seq):
            self.stats.created(job.display_name)
            if job.active and not job.generated:
                self._work.put(job.id)
        for model in {j.model for j in self._jobs.values()}:
            self.stats.set_enqueued(self.clock.now(), model, self._enqueued(model))

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        for target, name in (
            (self._worker, "gembatch-emulator-worker"),
            (self._ticker, "gembatch-emulator-clock"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()

    def _ticker(self) -> None:
        while not self._stop.wait(0.05):
            self.advance()
            self.files.expire(self.clock.now())

    def _worker(self) -> None:
        """Write outputs ahead of time (:meth:`advance` catches up on a job due before that)."""
        while not self._stop.is_set():
            try:
                job_id = self._work.get(timeout=0.1)
            except queue.Empty:
                continue
            with self._lock:
                job = self._jobs.get(job_id)
            if job is not None:
                self._ensure_generated(job)

    def _generation_lock(self, job_id: str) -> threading.Lock:
        with self._lock:
            return self._gen_locks.setdefault(job_id, threading.Lock())

    def _ensure_generated(self, job: Job) -> None:
        """Write ``job``'s output once (worker or a caller catching up); never call holding ``_lock``."""
        with self._generation_lock(job.id):
            if not job.active or job.generated:
                return
            try:
                result = self._generate(job)
            except Exception:  # a broken input must fail the job, never kill the worker
                logger.exception("emulator: generating output of %s failed", job.name)
                with self._lock:
                    if job.active:
                        job.planned, job.end_at = "FAILED", min(job.end_at, self.clock.now())
                        self._save(job)
                return
            if result is None:
                return
            with self._lock:
                if job.active:
                    job.ok_count, job.fail_count, job.extra["sha256"] = result
                    job.generated, job.generated_at = True, self.clock.now()
                    self._save(job)

    def _generate(self, job: Job) -> tuple[int, int, str] | None:
        return generate_output(
            input_path=self._path(job.id, "input.jsonl"),
            output_path=self._output_path(job),
            answer=batch_line_answer(
                self.lineup.get(job.model),
                job.kind,
                file_exists=lambda file_id: self.files.exists(file_id, job.project),
                own_host=self.own_host(),
            ),
            inline=job.source == "inline",
            kind=job.kind,
            profile=self.profile,
            seed=self.seed,
            job_seq=job.seq,
            line_tokens=self._line_tokens.pop(job.id, None),
            cancelled=lambda j=job: self._stop.is_set() or not j.active,  # type: ignore[misc]
        )

    # --- helpers -------------------------------------------------------------------------
    def _path(self, job_id: str, suffix: str) -> Path:
        return self.root / f"{job_id}.{suffix}"

    def _output_path(self, job: Job) -> Path:
        return self._path(job.id, "output.json" if job.source == "inline" else "output.jsonl")

    def _save(self, job: Job) -> None:
        write_json(self._path(job.id, "job.json"), job.to_dict())

    def _enqueued(self, model: str, project: str | None = None) -> int:
        """Prompt tokens of active jobs on ``model`` (of one project, or of all)."""
        return sum(
            j.tokens
            for j in self._jobs.values()
            if j.active and j.model == model and (project is None or j.project == project)
        )

    def _job(self, job_id: str, project: str | None = None) -> Job:
        job = self._jobs.get(job_id.removeprefix("batches/"))
        if job is None or (project is not None and job.project != project):
            raise ApiError(404, "Requested entity was not found.")
        return job

    def _render(self, job: Job, now: float) -> dict[str, Any]:
        inline = None
        if job.state == "SUCCEEDED" and job.source == "inline":
            inline = self._inline_cache.get(job.id)
            if inline is None:
                path = self._output_path(job)
                inline = json.loads(path.read_bytes()) if path.exists() else []
                self._inline_cache[job.id] = inline
                while len(self._inline_cache) > _INLINE_CACHE:
                    self._inline_cache.popitem(last=False)
            else:
                self._inline_cache.move_to_end(job.id)
        return job.resource(now, inline)

    # --- create ---------------------------------------------------------------------------
    def create(self, served: Served, body: dict[str, Any], kind: str = "generate", project: str = "default",
               deadline: str = "gemini") -> dict[str, Any]:  # fmt: skip
        """Create a job from a body already read as the service's request message.

        ``deadline="vertex"`` expires it on Vertex AI's terms (72 h queued, then 24 h running).
        """
        batch = body.get("batch")
        if not isinstance(batch, dict):
            raise invalid("batch", "is required")
        display_name = batch.get("displayName")
        inline = ((batch.get("inputConfig") or {}).get("requests") or {}).get("requests")
        if kind == "generate" and isinstance(inline, list):
            requests = [item.get("request") or {} for item in inline]
            check_inline(
                served,
                requests,
                file_exists=lambda file_id: self.files.exists(file_id, project),
                own_host=self.own_host(),
            )
        job_id = new_id(36)
        try:
            target = self._path(job_id, "input.jsonl")
            source, input_file, scan = stage_input(self.files, target, batch, kind, project)
            return self._commit(job_id=job_id, served=served, kind=kind, project=project, deadline=deadline,
                                display_name=display_name, source=source, input_file=input_file,
                                scan=scan)  # fmt: skip
        except BaseException:
            self._path(job_id, "input.jsonl").unlink(missing_ok=True)
            raise

    def _commit(
        self,
        *,
        job_id: str,
        served: Served,
        kind: str,
        project: str,
        deadline: str,
        display_name: str | None,
        source: str,
        input_file: str | None,
        scan: InputScan,
    ) -> dict[str, Any]:
        info, model = served.info, served.id
        concurrent = info.concurrent_batch_jobs if info else 100
        expiry_hours = info.batch_expiry_hours if info else 48.0
        tier_label = self.tier.replace("tier", "Tier").replace("free", "FreeTier")
        self._catch_up()
        with self._lock:
            self._commit_due()
            now = self.clock.now()
            active = [j for j in self._jobs.values() if j.active and j.project == project]
            if len(active) >= concurrent:
                retry = min(j.end_at for j in active) - now
                raise quota_error(
                    "batch_concurrent_requests",
                    "BatchConcurrentRequestsPerProject",
                    concurrent,
                    None,
                    self.clock.real_seconds(max(retry, 1.0)),
                )
            try:
                # No quota is enforced where none is known (an unpriced embedding model; Vertex).
                limit = info.enqueued_limit(self.tier) if info and deadline != "vertex" else None
            except CatalogError:
                limit = 0
            held = self._enqueued(model, project)
            if limit is not None and held + scan.tokens > limit:
                ends = [j.end_at for j in active if j.model == model]
                retry = (min(ends) - now) if ends else 3600.0
                raise quota_error(
                    "batch_enqueued_tokens",
                    f"BatchEnqueuedTokensPerModelPerProject-{tier_label}",
                    limit,
                    model,
                    self.clock.real_seconds(max(retry, 1.0)),
                )
            self._seq += 1
            seq = self._seq
            start, end = schedule(self.profile, seed=self.seed, seq=seq, tokens=scan.tokens, created=now)
            vertex = deadline == "vertex"
            expire = vertex_expiry(now, start) if vertex else now + expiry_hours * 3600.0
            forced = self.faults.take_outcome(display_name)
            planned = forced or "SUCCEEDED"
            if forced == "EXPIRED":
                expire = min(expire, end)  # a forced expiry happens at the scheduled end, not 48 h later
            elif forced is None and roll(self.seed, "fail", seq) < self.profile.job_failure_rate:
                planned = "FAILED"
            elif forced is None and roll(self.seed, "expire", seq) < self.profile.expiry_probability:
                planned = "EXPIRED"
            job = Job(
                id=job_id,
                seq=seq,
                model=model,
                display_name=display_name,
                source=source,
                input_file=input_file,
                request_count=scan.count,
                tokens=scan.tokens,
                create_time=now,
                start_at=start,
                end_at=end,
                expire_at=expire,
                planned=planned,
                update_time=now,
                kind=kind,
                project=project,
                extra={"deadline": "vertex"} if vertex else {},
            )
            self._jobs[job.id] = job
            self._line_tokens[job.id] = scan.line_tokens
            self._save(job)
            self.stats.created(display_name)
            self.stats.set_enqueued(now, model, self._enqueued(model))  # all projects, this job included
            self._work.put(job.id)
            return self._render(job, now)

    def force_outcome(self, display_name: str, outcome: str, count: int) -> int:
        """Force the outcome of up to ``count`` active jobs named ``display_name``; returns how many."""
        done = 0
        with self._lock:
            now = self.clock.now()
            for job in sorted(self._jobs.values(), key=lambda j: j.seq):
                if done >= count or not job.active or job.display_name != display_name:
                    continue
                job.planned = outcome
                if outcome == "EXPIRED":
                    job.expire_at = max(now, min(job.expire_at, job.end_at))
                self._save(job)
                done += 1
        return done

    # --- progress -------------------------------------------------------------------------
    def advance(self) -> None:
        """Commit every state change due by now (PENDING → RUNNING → terminal).

        A job whose emulated end has come but whose output is not written yet gets it written
        first, here: the emulated timeline never waits for the CPU.
        """
        self._catch_up()
        with self._lock:
            self._commit_due()

    def _catch_up(self) -> None:
        """Write the output of every job due by now that has none yet (outside ``_lock``)."""
        with self._lock:
            now = self.clock.now()
            late = [j for j in self._jobs.values() if j.active and not j.generated and now >= j.end_at]
        for job in sorted(late, key=lambda j: j.seq):
            self._ensure_generated(job)

    def _commit_due(self) -> None:  # under _lock
        now = self.clock.now()
        for job in [j for j in self._jobs.values() if j.active]:
            outcome = job.due(now)
            if outcome is None:
                if job.state == "PENDING" and now >= job.start_at:
                    job.state, job.update_time = "RUNNING", job.start_at
                    self._save(job)
                continue
            self._finish(job, outcome, now)

    def _finish(self, job: Job, outcome: str, now: float) -> None:
        if outcome == "EXPIRED":
            end = job.expire_at
        elif outcome == "SUCCEEDED":
            end = job.end_at  # on the emulated clock, however long the output took to write
        elif outcome == "CANCELLED":
            end = now
        else:
            end = job.end_at
        end = min(end, now)
        if outcome == "SUCCEEDED" and job.source == "file":
            rec = self.files.add_generated(
                f"batch-{job.id}",
                self._output_path(job),
                end,
                sha256=job.extra.get("sha256"),
                project=job.project,
            )
            job.output_file = rec.name
        job.state, job.end_time, job.update_time = outcome, end, end
        self._save(job)
        self.stats.set_enqueued(end, job.model, self._enqueued(job.model))

    # --- reads and changes -----------------------------------------------------------------
    def get(self, job_id: str, project: str | None = None) -> dict[str, Any]:
        self._catch_up()
        with self._lock:
            self._commit_due()
            return self._render(self._job(job_id, project), self.clock.now())

    def list(
        self, page_size: int | None, page_token: str | None, project: str | None = None
    ) -> dict[str, Any]:
        size = DEFAULT_PAGE if not page_size or page_size <= 0 else min(page_size, MAX_PAGE)
        after = None
        if page_token:
            try:
                after = int(read_page_token("batches", page_token))
            except ValueError:
                raise ApiError(400, "Invalid page token.") from None
        self._catch_up()
        with self._lock:
            self._commit_due()
            now = self.clock.now()
            jobs = sorted(
                (j for j in self._jobs.values() if project is None or j.project == project),
                key=lambda j: -j.seq,
            )
            if after is not None:
                jobs = [j for j in jobs if j.seq < after]
            page = jobs[:size]
            body: dict[str, Any] = {"operations": [self._render(j, now) for j in page]}
            if len(jobs) > size:
                body["nextPageToken"] = make_token("batches", str(page[-1].seq))
            return body

    def cancel(self, job_id: str, project: str | None = None) -> dict[str, Any]:
        self._catch_up()
        with self._lock:
            self._commit_due()
            job = self._job(job_id, project)
            if not job.active:
                # google.longrunning semantics: cancel is best effort; a job that already
                # finished stays as it is ("completed despite cancellation"), with no error.
                return {}
            self._finish(job, "CANCELLED", self.clock.now())
            return {}

    def delete(self, job_id: str, project: str | None = None) -> dict[str, Any]:
        self._catch_up()
        with self._lock:
            self._commit_due()
            job = self._job(job_id, project)
            if job.active:
                self._finish(job, "CANCELLED", self.clock.now())
            del self._jobs[job.id]
            self._line_tokens.pop(job.id, None)
            self._inline_cache.pop(job.id, None)
            for suffix in ("job.json", "input.jsonl", "output.json", "output.jsonl"):
                self._path(job.id, suffix).unlink(missing_ok=True)
            return {}

    def counts(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for job in self._jobs.values():
                out[job.state] = out.get(job.state, 0) + 1
            return out
