"""``gb.Run``: a durable batch run driven from its ledger (create, resume, step, wait, inspect)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, cast

import pandas as pd

from gembatch.cache.lookup import lookup, open_cache
from gembatch.errors import GembatchError, InputError, LedgerDamaged, RunBusy, RunMismatch
from gembatch.inputs.stream import ArticleStream
from gembatch.inputs.values import check_attempts, check_budget
from gembatch.runs.backend_record import recorded, transport_for
from gembatch.runs.bq_results import check_results_in, fill_results, result_tables
from gembatch.runs.cleanup import CleanupReport
from gembatch.runs.config import LEDGER_FILE, RunConfig
from gembatch.runs.context import Context
from gembatch.runs.deadline import parse_deadline, set_deadline
from gembatch.runs.drivers import StepReport, driver_for
from gembatch.runs.drivers.batch import guard
from gembatch.runs.drivers.realtime import finish_realtime
from gembatch.runs.frames import chunks_frame, events_frame
from gembatch.runs.guard import open_existing, set_aside, write_marker
from gembatch.runs.knobs import check_knobs as _check_knobs
from gembatch.runs.knobs import timing_knobs as _timing_knobs
from gembatch.runs.lock import create_lock, driver_lock
from gembatch.runs.poll import cancel_in_flight
from gembatch.runs.result_pages import export_pages, iter_pages
from gembatch.runs.results import results_frame
from gembatch.runs.reuse import absorb
from gembatch.runs.setup import check_same_run, defining_config, new_ledger
from gembatch.runs.states import State
from gembatch.runs.store import RunStore
from gembatch.runs.streamed import is_streamed, new_stream_ledger, source_fingerprints
from gembatch.runs.summarize import summarize
from gembatch.runs.summary import RunSummary
from gembatch.transport.base import Transport
from gembatch.transport.connect import as_transport, connection_of

__all__ = ["PANEL_GROUP", "Run", "StepReport"]

#: Entry-point group where a panel package offers ``monitor`` (``gembatch_widgets`` does).
PANEL_GROUP = "gembatch.panels"


class Run:
    """A batch run whose every decision is recorded in ``run_dir/ledger.sqlite``.

    Examples
    --------
    >>> run = gb.Run.create("runs/12k", articles, plan)   # doctest: +SKIP
    >>> run.wait()                                         # doctest: +SKIP
    >>> run.results().status.value_counts()                # doctest: +SKIP
    """

    def __init__(self, run_dir: Path, store: RunStore, client: Any):
        self.run_dir = run_dir
        config = RunConfig.from_dict(store.get_meta("config"))
        self._ctx = Context(run_dir=run_dir, store=store, _transport=client, config=config)
        self._lock = self._ctx.lock
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        run_dir: str | os.PathLike[str],
        articles: pd.DataFrame | str | os.PathLike[str] | ArticleStream,
        plan: Any,
        *,
        client: Any = None,
        max_attempts: int = 3,
        budget_usd: float | None = None,
        run_id: str | None = None,
        force: bool = False,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        deadline: Any = None,
        deadline_usd: float | None = None,
        **knobs: Any,
    ) -> Run:
        """Create the run, or reopen it when ``run_dir`` already holds the same one.

        A directory that shows earlier work (``run.json`` or ``results.parquet``) but whose ledger
        is missing, empty or unreadable raises :class:`~gembatch.LedgerDamaged` instead of starting
        afresh; ``force=True`` moves the old files into ``damaged-<time>/`` and starts a new run.

        ``knobs`` are operational settings (:attr:`RunConfig.OPERATIONAL`, e.g. ``pending_limit_s``,
        ``cancel_stale``, ``delete_output_files``, ``poll_min_s``); they may change on reopen.
        ``budget_usd`` (default: the plan's) caps committed spend: actual cost plus the estimates
        of every job in flight; a chunk that would pass it is not submitted. ``run_id`` prefixes
        the job display names (default: the directory name); a random suffix keeps it unique.
        ``client`` is a ``google.genai.Client`` or a :class:`~gembatch.transport.base.Transport`
        (default: :func:`gembatch.connect`'s choice); its backend's poll timings apply.
        Raises :class:`~gembatch.RunMismatch` if the directory holds a different run, or a run on
        another backend (a run records its backend; without ``client`` it reconnects to it).

        ``articles`` may also be an input larger than memory: a Parquet file, a directory of
        Parquet files or an :class:`~gembatch.inputs.stream.ArticleStream`, with the plan
        :func:`gembatch.plan_stream` made from it. It is read batch by batch (the response cache
        is not consulted); jobs go as files and read only their articles' rows back from the run's
        snapshot.

        ``cache`` (default on) answers every article whose request (backend, model, contents,
        system instruction, generation config) is in the response cache at no cost, and only the
        rest is sent; the run's paid answers go into the cache. ``cache_dir`` (default
        ``$GEMBATCH_CACHE_DIR``, else the user's cache directory) says where it lives. A reopened
        run keeps what it was created with.

        ``deadline`` (a time such as ``"16:00"`` or a duration such as ``"2h"``, see
        :meth:`set_deadline`) moves jobs that would miss it to real time, spending at most
        ``deadline_usd`` on that.
        """
        _check_knobs(knobs)
        max_attempts, budget_usd = check_attempts(max_attempts), check_budget(budget_usd)
        parse_deadline(deadline)  # a bad deadline is refused before anything is written
        check_budget(deadline_usd, "deadline_usd")
        path = Path(run_dir)
        if path.exists() and not path.is_dir():
            raise InputError(f"run_dir {path} is a file, not a directory; pick another path", field="run_dir")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GembatchError(f"cannot make the run directory {path}: {exc.strerror or exc}") from None
        # an existing run reconnects to the backend it recorded; another backend is refused here
        transport = transport_for(path, recorded(path), client) or as_transport(client)
        check_results_in(knobs.get("results_in"), transport)
        streamed = is_streamed(articles, plan)  # a Parquet source read batch by batch
        knobs = {**_timing_knobs(transport), **knobs}
        with create_lock(path):  # one creator at a time: the second reopens the first's run
            try:
                existing = open_existing(path, discard_unfinished=True)
            except LedgerDamaged:
                if not force:
                    raise
                set_aside(path)
                existing = None
            if existing is not None:
                ledger, stored = existing
                config = RunConfig.from_dict(stored)
                defining = defining_config(plan, max_attempts, budget_usd)
                try:
                    wanted, legacy = source_fingerprints(articles, plan, defining)  # batch by batch
                    check_same_run(config, wanted, path, legacy, defining)
                except RunMismatch:
                    ledger.close()  # refused: the directory is left as it was found
                    raise
                if knobs:
                    ledger.set_meta("config", {**stored, **knobs})
                return cls(path, ledger, transport)._with_deadline(deadline, deadline_usd)
            store = None if streamed else open_cache(cache, cache_dir)  # a stream skips the cache
            frame = cast(pd.DataFrame, articles)  # a frame whenever the cache is open
            with store if store is not None else nullcontext():
                found = None if store is None else lookup(frame, plan.spec, transport.name, store)
                make = new_stream_ledger if streamed else partial(new_ledger, cached=found)
                ledger = make(path, frame, plan, max_attempts=max_attempts, run_id=run_id,
                              budget_usd=budget_usd, backend=connection_of(transport), **knobs)  # fmt: skip
                if store is not None and found is not None and found.hits:
                    store.mark_used({e.key for e in found.hits.values()})
            config = RunConfig.from_dict(ledger.get_meta("config"))
            write_marker(path, config.run_id, config.model)
            return cls(path, ledger, transport)._with_deadline(deadline, deadline_usd)

    def _with_deadline(self, deadline: Any, deadline_usd: float | None) -> Run:
        if deadline is not None and not (isinstance(deadline, str) and not deadline.strip()):
            self.set_deadline(deadline, deadline_usd)
        return self

    @classmethod
    def open(cls, run_dir: str | os.PathLike[str], client: Any = None, **knobs: Any) -> Run:
        """Reopen an existing run (after a crash, a kernel restart, or from another process).

        ``knobs`` change operational settings (as in :meth:`create`) and are saved in the ledger.
        Without ``client`` the run reconnects to the backend it recorded (Vertex: its project,
        location and bucket); a ``client`` of another backend raises :class:`~gembatch.RunMismatch`.
        """
        _check_knobs(knobs)
        path = Path(run_dir)
        if path.is_file():
            raise InputError(f"{path} is a file, not a run directory", field="run_dir")
        had_ledger = (path / LEDGER_FILE).exists()
        existing = open_existing(path)  # a damaged ledger beside earlier work: LedgerDamaged
        if existing is None:
            if not had_ledger:
                raise GembatchError(
                    f"{path} holds no gembatch run; start one with `gembatch run FILE --run-dir {path}` "
                    "(or gb.Run.create in Python)"
                )
            raise GembatchError(
                f"{path}: the run was never fully created; create it again with `gembatch run FILE "
                f"--run-dir {path}`"
            )
        ledger, stored = existing
        try:  # a client of another backend is refused before any request
            client = transport_for(path, RunConfig.from_dict(stored).backend, client) if client else None
        except RunMismatch:
            ledger.close()
            raise
        if knobs:  # the client (and the emulator/real choice) is resolved lazily: status needs none
            ledger.set_meta("config", {**stored, **knobs})
        return cls(path, ledger, client)

    @property
    def config(self) -> RunConfig:
        """The run's configuration as last read from its store."""
        return self._ctx.config

    @property
    def transport(self) -> Transport:
        """The backend this run talks to (connected on first use)."""
        return self._ctx.transport

    @property
    def client(self) -> Any:
        """The google-genai client under :attr:`transport` (the transport itself if it has none)."""
        transport = self._ctx.transport
        return getattr(transport, "client", transport)

    @property
    def run_id(self) -> str:
        return self._ctx.config.run_id

    @property
    def store(self) -> RunStore:
        """The run's store (``ledger.sqlite``)."""
        return self._ctx.store

    @property
    def ledger(self) -> RunStore:
        """Older name of :attr:`store`."""
        return self._ctx.store

    # -- driving --------------------------------------------------------------------------
    def step(self) -> StepReport:
        """One tick of the run's driver (batch: reconcile, sweep, collect, re-queue, submit what fits;
        real time: a bounded slice of sending)."""
        mode = self._ctx.refresh().mode
        try:
            return driver_for(mode).step(self._ctx)
        finally:
            absorb(self._ctx)

    def wait(self, timeout: float | None = None, progress: bool = True) -> bool:
        """Drive until every article is accounted for (or ``timeout`` seconds pass); True when done."""
        mode = self._ctx.refresh().mode
        try:
            return driver_for(mode).wait(self._ctx, timeout=timeout, progress=progress, stop=self._stop)
        finally:
            absorb(self._ctx)  # the answers paid for go into the response cache

    def start(self) -> Run:
        """Drive the run from a daemon thread (for notebooks); calling it again is harmless."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return self
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._background, name=f"gembatch-run-{self.run_id}", daemon=True
            )
            self._thread.start()
        return self

    def _background(self) -> None:
        try:
            self.wait(progress=False)
        except Exception as exc:  # a thread has nobody to raise to: record it where the user looks
            self.store.event("error", f"background driver stopped: {type(exc).__name__}: {exc}")

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the background driver (jobs keep running remotely; everything is in the store)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None
        self._stop.clear()

    @property
    def is_running(self) -> bool:
        """True while :meth:`start`'s background driver is alive."""
        return self._thread is not None and self._thread.is_alive()

    def pause(self) -> None:
        """Submit nothing new (monitoring and collection go on), until :meth:`resume`, across restarts."""
        with self.store.transaction():
            self.store.set_meta("paused", True)
            self.store.event("pause", "submission paused")

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        with self.store.transaction():
            self.store.set_meta("paused", False)
            self.store.event("resume", "submission resumed")

    def set_budget(self, budget_usd: float | None) -> None:
        """Raise (or lower, or with ``None`` remove) the run's budget; a run stopped by it goes on.

        Takes effect in a driver running elsewhere (another ``Run`` object or process) at its next
        step. Re-creating the run from the same plan still reopens it: the budget it was created
        with stays part of its fingerprint.
        """
        ctx, store = self._ctx, self.store
        with self._lock, store.transaction():
            cfg = ctx.refresh()
            old, cfg.budget_usd = cfg.budget_usd, check_budget(budget_usd)
            ctx.save_config()
            store.unblock_budget()
            if store.get_meta("done") == "budget":
                store.set_meta("done", None)
            store.event("budget", f"budget_usd {old} -> {cfg.budget_usd}")

    def set_deadline(self, deadline: Any, deadline_usd: float | None = None) -> float | None:
        """Finish by ``deadline``: jobs that would miss it are cancelled and their articles sent in
        real time (see :mod:`gembatch.runs.deadline`); returns the deadline as UNIX seconds.

        ``deadline``: a time (``"16:00"``, ``"2026-12-01T16:00"``, a ``datetime``) or a duration from
        now (``"90m"``, ``"2h"``, seconds); ``None`` removes it. ``deadline_usd``: the most the
        switch to real time may cost (``None``: only ``budget_usd`` bounds it).
        """
        with self._lock:
            return set_deadline(self._ctx, deadline, check_budget(deadline_usd, "deadline_usd"))

    def retry_failed(self) -> int:
        """Give every failed article one more attempt (e.g. after fixing a quota); returns how many."""
        ctx, store = self._ctx, self.store
        with self._lock, store.transaction():
            n, top = store.requeue_failed()
            cfg = ctx.refresh()
            cfg.max_attempts = max(cfg.max_attempts, top + 1)
            ctx.save_config()
            store.set_meta("done", None)
            store.event("retry_failed", f"{n} failed articles re-queued")
        return n

    def finish_realtime(self, timeout: float | None = None, progress: bool = True, **options: Any) -> bool:
        """Send what is still pending through real time, for good; True when every article is done.

        Batch jobs in flight are cancelled first and each cancellation confirmed with
        ``batches.get`` (a job that finished meanwhile is collected instead), so nothing is paid
        twice. ``options``: :class:`gembatch.runs.realtime_send.RealtimeOptions` fields (``rpm``, ``tpm``...).
        """
        self.stop()  # the batch driver must not submit what real time is about to send
        try:
            return finish_realtime(self._ctx, timeout=timeout, progress=progress, stop=self._stop, **options)
        finally:
            absorb(self._ctx)

    def monitor(self, **kwargs: Any) -> Any:
        """A live monitor panel for this run, from the installed panel package (gembatch-widgets).

        The panel is found through the ``gembatch.panels`` entry point named ``monitor``, so the
        library never imports the widgets itself.
        """
        found = entry_points(group=PANEL_GROUP, name="monitor")
        if not found:
            raise GembatchError(
                "the monitor panel needs the gembatch-widgets package: pip install gembatch-widgets "
                "(from a checkout: pip install -e ./widgets)"
            )
        panel = next(iter(found)).load()
        return panel(self, **kwargs)

    def cancel(self) -> None:
        """Submit nothing more and cancel every job in flight; collected results are kept."""
        with self._lock:
            store = self.store
            store.set_meta("cancelled", True)
            with store.transaction():
                for row in store.chunks_in(State.PLANNED):
                    store.transition(
                        row["chunk_id"], State.CANCELLED, cancel_reason="user", finished_at=time.time()
                    )
                store.event("cancel", "run cancelled by the user")
            guard(self._ctx, "cancel", lambda: cancel_in_flight(self._ctx))  # retried by the next step

    def cleanup(self, dry_run: bool = False) -> CleanupReport:
        """Delete what the service still holds for this run and the run no longer needs.

        Lists the service's jobs and files under the run's display-name prefix, plus the deletes
        the run still owes; keeps what a chunk in flight needs. With ``dry_run`` nothing is
        deleted: the report lists what would be. Driving the run (``wait``, ``gembatch run``)
        does the same by itself; this is for a run left behind, or to see what is left.
        """
        from gembatch.runs.cleanup import cleanup

        if dry_run:
            return cleanup(self._ctx, dry_run=True)
        with self._lock, driver_lock(self.run_dir) as mine:
            if not mine:
                raise RunBusy(
                    f"another process is driving the run in {self.run_dir}; it cleans up as it goes. "
                    f"Try again when it has stopped, or see what is left with "
                    f"`gembatch cleanup {self.run_dir} --dry-run`"
                )
            self._ctx.refresh()
            return cleanup(self._ctx, dry_run=False)

    # -- frames and summary ---------------------------------------------------------------
    def results(self, join: bool = False) -> pd.DataFrame:
        """One row per article: status, output, parsed schema fields, tokens, cost (``join``: + inputs)."""
        ctx = self._ctx
        frame = results_frame(self.store, ctx.spec.response_schema, ctx.articles if join else None)
        return fill_results(ctx, frame)  # results_in="bigquery": the texts are read back from the tables

    def result_tables(self) -> list[str]:
        """The BigQuery tables holding the run's results (``results_in="bigquery"``), as ``bq://`` URIs."""
        return result_tables(self._ctx)

    def iter_results(self, page_size: int = 50_000) -> Iterator[pd.DataFrame]:
        """:meth:`results` a page of ``page_size`` articles at a time, in input order (large runs)."""
        return iter_pages(self.store, self._ctx.spec.response_schema, page_size)

    def export_results(self, path: str | os.PathLike[str], page_size: int = 50_000) -> Path:
        """Write :meth:`results` to a Parquet file page by page; returns its path."""
        return export_pages(self.store, self._ctx.spec.response_schema, path, page_size)

    def chunks(self) -> pd.DataFrame:
        """One row per chunk (batch job attempt): state, batch name, estimates vs actuals, times."""
        return chunks_frame(self.store)

    def events(self) -> pd.DataFrame:
        """The run's history: time, kind, chunk, message, enqueued tokens, committed spend, done counts."""
        return events_frame(self.store)

    def summary(self) -> RunSummary:
        """Counts, tokens, cost estimated vs actual, timing, the last problem (a :class:`RunSummary`)."""
        return summarize(self.store, self._ctx.refresh())

    def __repr__(self) -> str:
        from gembatch.presentation.summary_view import summary_text

        return summary_text(self.summary(), str(self.run_dir))

    def _repr_html_(self) -> str:
        from gembatch.presentation.summary_view import summary_html

        return summary_html(self.summary(), str(self.run_dir))
