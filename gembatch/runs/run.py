"""``gb.Run``: a durable batch run driven from its ledger (create, resume, step, wait, inspect)."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from gembatch.errors import GembatchError
from gembatch.runs import views
from gembatch.runs.collect import collect_chunk, make_retry_chunks
from gembatch.runs.context import LEDGER_FILE, RESULTS_FILE, Context, RunConfig
from gembatch.runs.lock import driver_lock
from gembatch.runs.poll import cancel_job, poll, sweep
from gembatch.runs.results import export, results_frame
from gembatch.runs.scheduler import Candidate, Capacity, choose
from gembatch.runs.setup import check_same_run, defining_config, fingerprints, new_ledger
from gembatch.runs.states import FINISHED, State
from gembatch.runs.store import Ledger
from gembatch.runs.submit import reconcile, submit_chunk
from gembatch.runs.summary import RunSummary
from gembatch.transport import gemini as remote

__all__ = ["Run", "StepReport"]

T = TypeVar("T")


@dataclass(frozen=True)
class StepReport:
    """What one :meth:`Run.step` did."""

    submitted: int
    finished: int
    collected: int
    done: bool


def _default_client() -> Any:
    from gembatch.transport.connect import connect

    return connect()


def _poll_defaults(client: Any) -> dict[str, float]:
    try:
        from gembatch.transport.connect import is_emulator

        emulated = bool(is_emulator(client))
    except ImportError:
        emulated = False
    return {"poll_min_s": 0.2, "poll_max_s": 2.0, "reconcile_grace_s": 0.5} if emulated else {}


def _check_knobs(knobs: dict[str, Any]) -> None:
    unknown = set(knobs) - set(RunConfig.OPERATIONAL)
    if unknown:
        known = ", ".join(RunConfig.OPERATIONAL)
        raise TypeError(f"unknown run option(s): {', '.join(sorted(unknown))}; known: {known}")
    if "mode" in knobs or "realtime" in knobs:
        from gembatch.runs.realtime_driver import check_options

        check_options(knobs.get("mode"), knobs.get("realtime"))


class Run:
    """A batch run whose every decision is recorded in ``run_dir/ledger.sqlite``.

    Examples
    --------
    >>> run = gb.Run.create("runs/12k", articles, plan)   # doctest: +SKIP
    >>> run.wait()                                         # doctest: +SKIP
    >>> run.results().status.value_counts()                # doctest: +SKIP
    """

    def __init__(self, run_dir: Path, ledger: Ledger, client: Any):
        self.run_dir = run_dir
        config = RunConfig.from_dict(ledger.get_meta("config"))
        self._ctx = Context(run_dir=run_dir, ledger=ledger, _client=client, config=config)
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        run_dir: str | os.PathLike[str],
        articles: pd.DataFrame,
        plan: Any,
        *,
        client: Any = None,
        max_attempts: int = 3,
        budget_usd: float | None = None,
        run_id: str | None = None,
        **knobs: Any,
    ) -> Run:
        """Create the run, or reopen it when ``run_dir`` already holds the same one.

        ``knobs`` are operational settings (:attr:`RunConfig.OPERATIONAL`, e.g. ``pending_limit_s``,
        ``cancel_stale``, ``delete_output_files``, ``poll_min_s``); they may change on reopen.
        ``budget_usd`` (default: the plan's) caps committed spend: actual cost plus the estimates
        of every job in flight; a chunk that would pass it is not submitted. ``run_id`` prefixes
        the job display names (default: the directory name); a random suffix keeps it unique.
        Raises :class:`~gembatch.RunMismatch` if the directory holds a different run.
        """
        _check_knobs(knobs)
        path = Path(run_dir)
        path.mkdir(parents=True, exist_ok=True)
        client = client if client is not None else _default_client()
        knobs = {**_poll_defaults(client), **knobs}
        ledger_path = path / LEDGER_FILE
        if ledger_path.exists():
            ledger = Ledger(ledger_path)
            stored = ledger.get_meta("config")
            if stored is not None:
                config = RunConfig.from_dict(stored)
                defining = defining_config(plan, max_attempts, budget_usd)
                check_same_run(config, fingerprints(articles, plan, defining), path, plan, defining)
                if knobs:
                    ledger.set_meta("config", {**stored, **knobs})
                return cls(path, ledger, client)
            ledger.close()
            ledger_path.unlink()  # a create that crashed before committing: start afresh
        ledger = new_ledger(
            path, articles, plan, max_attempts=max_attempts, run_id=run_id, budget_usd=budget_usd, **knobs
        )
        return cls(path, ledger, client)

    @classmethod
    def open(cls, run_dir: str | os.PathLike[str], client: Any = None, **knobs: Any) -> Run:
        """Reopen an existing run (after a crash, a kernel restart, or from another process).

        ``knobs`` change operational settings (as in :meth:`create`) and are saved in the ledger.
        """
        _check_knobs(knobs)
        path = Path(run_dir)
        if not (path / LEDGER_FILE).exists():
            raise GembatchError(
                f"{path} holds no gembatch run; create one with gb.Run.create(run_dir, articles, plan)"
            )
        ledger = Ledger(path / LEDGER_FILE)
        stored = ledger.get_meta("config")
        if stored is None:
            raise GembatchError(f"{path}: the run was never fully created; call gb.Run.create again")
        if knobs:  # the client (and the emulator/real choice) is resolved lazily: status needs none
            ledger.set_meta("config", {**stored, **knobs})
        return cls(path, ledger, client)

    @property
    def config(self) -> RunConfig:
        return self._ctx.config

    @property
    def client(self) -> Any:
        """The google-genai client this run talks through (connected on first use)."""
        return self._ctx.client

    @property
    def run_id(self) -> str:
        return self._ctx.config.run_id

    @property
    def ledger(self) -> Ledger:
        return self._ctx.ledger

    # -- driving --------------------------------------------------------------------------
    def step(self) -> StepReport:
        """One tick: reconcile, one listing sweep, collect, re-queue, submit what fits."""
        if self._ctx.config.mode == "realtime":  # a bounded slice of real-time sending
            from gembatch.runs.realtime_driver import step as realtime_step

            with self._lock:
                return realtime_step(self._ctx)
        with self._lock, driver_lock(self.run_dir) as mine:
            if not mine:  # another process (or Run object) is driving this run right now
                return StepReport(0, 0, 0, bool(self.ledger.get_meta("done")))
            ctx, led = self._ctx, self._ctx.ledger
            cancelled = bool(led.get_meta("cancelled"))
            finished = 0
            if led.chunks_in(State.SUBMITTING, State.SUBMITTED):
                listing = self._guard("sweep", lambda: sweep(ctx))
                if listing is not None:  # reconcile only from a complete listing, never a partial one
                    self._guard("reconcile", lambda: reconcile(ctx, listing.by_display))
                    if cancelled:
                        self._guard("cancel", self._cancel_remote)
                    finished = self._guard("poll", lambda: poll(ctx, listing)) or 0
            collected = 0
            for row in led.chunks_in(*FINISHED):
                collect = functools.partial(collect_chunk, ctx, row["chunk_id"], user_cancelled=cancelled)
                collected += self._guard("collect", collect) is not None
            submitted = 0
            if not cancelled and not led.get_meta("paused"):
                # retries wait to fill a chunk while sendable planned work remains, then all go out
                sendable = [r for r in led.chunks_in(State.PLANNED) if r["blocked"] != "budget"]
                make_retry_chunks(ctx, flush=not sendable)
                submitted = self._guard("submit", self._schedule) or 0
            if collected:
                led.calibrate()
                export(self.results(), self.run_dir / RESULTS_FILE)
            done = self._check_done()
            return StepReport(submitted, finished, collected, done)

    def _guard(self, phase: str, fn: Callable[[], T]) -> T | None:
        """Run one phase; a transient service error is recorded and the phase retried next step."""
        try:
            return fn()
        except Exception as exc:
            if not remote.transient(exc):
                raise
            self._ctx.ledger.event("transient_error", f"{phase}: {type(exc).__name__}: {str(exc)[:200]}")
            return None

    def _schedule(self) -> int:
        ctx, led, cfg = self._ctx, self._ctx.ledger, self._ctx.config
        if time.time() < ctx.backoff_until:
            return 0
        planned = led.chunks_in(State.PLANNED)
        if not planned:
            return 0
        tokens, jobs, _ = led.in_flight()
        _, committed = led.spend()
        ratio = led.token_ratio()
        open_wave = led.query("SELECT MIN(wave) FROM chunks WHERE state != 'collected'")[0][0]
        decision = choose(
            [
                Candidate(r["chunk_id"], r["wave"], round(r["est_input_tokens"] * ratio), r["est_cost_usd"])
                for r in planned
            ],
            Capacity(tokens, jobs, committed, open_wave),
            policy=cfg.policy,
            cap_tokens=cfg.cap_tokens,
            max_jobs=cfg.max_jobs,
            budget_usd=cfg.budget_usd,
        )
        blocked = {r["chunk_id"]: r for r in planned}
        for cid in decision.over_budget:
            if blocked[cid]["blocked"] != "budget":
                led.update_chunk(cid, blocked="budget")
                led.event(
                    "budget_blocked",
                    f"not submitted: ~${blocked[cid]['est_cost_usd']:.4f} would push committed "
                    f"${committed:.4f} past budget_usd ${cfg.budget_usd:.4f}",
                    cid,
                )
        n = 0
        for cid in decision.submit:
            outcome = submit_chunk(ctx, cid)
            n += outcome == "submitted"
            if outcome == "backoff":
                break
        return n

    def _check_done(self) -> bool:
        led = self._ctx.ledger
        busy = led.query(
            "SELECT COUNT(*) FROM chunks WHERE state IN ('submitting', 'submitted', 'succeeded', 'failed', "
            "'expired', 'cancelled') OR (state = 'planned' AND COALESCE(blocked, '') != 'budget')"
        )[0][0]
        if led.get_meta("cancelled"):
            busy = led.query("SELECT COUNT(*) FROM chunks WHERE state IN ('submitting', 'submitted')")[0][0]
        requeued = led.query("SELECT COUNT(*) FROM articles WHERE requeue=1 AND status='pending'")[0][0]
        done = busy == 0 and (requeued == 0 or bool(led.get_meta("cancelled")))
        if done and not led.get_meta("done"):
            c = led.counts()
            why = "cancelled" if led.get_meta("cancelled") else ("budget" if c["pending"] else "complete")
            led.set_meta("done", why)
            led.event(
                "done", f"{why}: {c['succeeded']} succeeded, {c['failed']} failed, {c['pending']} pending"
            )
        return done

    def wait(self, timeout: float | None = None, progress: bool = True) -> bool:
        """Step until every article is accounted for (or ``timeout`` seconds pass); True when done."""
        if self._ctx.config.mode == "realtime":
            from gembatch.runs.realtime_driver import drive

            return drive(self._ctx, timeout=timeout, progress=progress, stop=self._stop)
        from tqdm.auto import tqdm

        deadline = None if timeout is None else time.monotonic() + timeout
        cfg = self._ctx.config
        interval = cfg.poll_min_s
        total = int(self.ledger.query("SELECT COUNT(*) FROM articles")[0][0])
        bar = tqdm(total=total, desc=f"run {self.run_id}", unit="article", disable=not progress)
        try:
            while not self._stop.is_set():
                report = self.step()
                c = self.ledger.counts()
                bar.n = c["succeeded"] + c["failed"]
                bar.set_postfix(failed=c["failed"], refresh=False)
                bar.refresh()
                if report.done:
                    return True
                busy = report.submitted or report.finished or report.collected
                interval = cfg.poll_min_s if busy else min(cfg.poll_max_s, interval * 1.5)
                if deadline is not None and time.monotonic() + interval > deadline:
                    return False
                self._stop.wait(interval)
            return False
        finally:
            bar.close()

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
            self.ledger.event("error", f"background driver stopped: {type(exc).__name__}: {exc}")

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop the background driver (jobs keep running remotely; everything is in the ledger)."""
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
        self.ledger.set_meta("paused", True)
        self.ledger.event("pause", "submission paused")

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        self.ledger.set_meta("paused", False)
        self.ledger.event("resume", "submission resumed")

    def set_budget(self, budget_usd: float | None) -> None:
        """Raise (or lower, or with ``None`` remove) the run's budget; a run stopped by it goes on.

        Re-creating the run from the same plan still reopens it: the budget it was created with
        stays part of its fingerprint.
        """
        with self._lock, self.ledger.transaction() as db:
            cfg = self._ctx.config
            old, cfg.budget_usd = cfg.budget_usd, None if budget_usd is None else float(budget_usd)
            self.ledger.set_meta("config", cfg.to_dict())
            db.execute("UPDATE chunks SET blocked=NULL WHERE blocked='budget'")
            if self.ledger.get_meta("done") == "budget":
                self.ledger.set_meta("done", None)
            self.ledger.event("budget", f"budget_usd {old} -> {cfg.budget_usd}")

    def retry_failed(self) -> int:
        """Give every failed article one more attempt (e.g. after fixing a quota); returns how many."""
        with self._lock, self.ledger.transaction() as db:
            n = db.execute(
                "UPDATE articles SET status='pending', requeue=1, error=NULL "
                "WHERE status='failed' AND article_id=rep_id"
            ).rowcount
            db.execute("UPDATE articles SET status='pending' WHERE status='failed' AND article_id!=rep_id")
            top = int(db.execute("SELECT COALESCE(MAX(attempts), 0) FROM articles").fetchone()[0])
            cfg = self._ctx.config
            cfg.max_attempts = max(cfg.max_attempts, top + 1)
            self.ledger.set_meta("config", cfg.to_dict())
            self.ledger.set_meta("done", None)
            self.ledger.event("retry_failed", f"{n} failed articles re-queued")
        return int(n)

    def finish_realtime(self, timeout: float | None = None, progress: bool = True, **options: Any) -> bool:
        """Send what is still pending through real time, for good; True when every article is done.

        Batch jobs in flight are cancelled first and each cancellation confirmed with
        ``batches.get`` (a job that finished meanwhile is collected instead), so nothing is paid
        twice. ``options``: :class:`gembatch.runs.realtime_send.RealtimeOptions` fields (``rpm``, ``tpm``...).
        """
        from gembatch.runs.realtime_driver import finish_realtime

        self.stop()  # the batch driver must not submit what real time is about to send
        return finish_realtime(self._ctx, timeout=timeout, progress=progress, stop=self._stop, **options)

    def monitor(self, **kwargs: Any) -> Any:
        """A live ``gembatch_widgets.MonitorPanel`` for this run (needs the widgets package)."""
        try:
            from gembatch_widgets import MonitorPanel
        except ImportError:
            raise GembatchError(
                "the monitor panel needs gembatch-widgets: pip install -e ./widgets"
            ) from None
        return MonitorPanel(self, **kwargs)

    def cancel(self) -> None:
        """Submit nothing more and cancel every job in flight; collected results are kept."""
        with self._lock:
            led = self._ctx.ledger
            led.set_meta("cancelled", True)
            with led.transaction():
                for row in led.chunks_in(State.PLANNED):
                    led.transition(
                        row["chunk_id"], State.CANCELLED, cancel_reason="user", finished_at=time.time()
                    )
                led.event("cancel", "run cancelled by the user")
            self._guard("cancel", self._cancel_remote)  # what fails now is retried by the next step

    def _cancel_remote(self) -> None:
        for row in self._ctx.ledger.chunks_in(State.SUBMITTED):
            if row["cancel_reason"] != "user":
                cancel_job(self._ctx, row["chunk_id"], row["batch_name"], "user")

    # -- views ----------------------------------------------------------------------------
    def results(self, join: bool = False) -> pd.DataFrame:
        """One row per article: status, output, parsed schema fields, tokens, cost (``join``: + inputs)."""
        return results_frame(
            self.ledger, self._ctx.spec.response_schema, self._ctx.articles if join else None
        )

    def chunks(self) -> pd.DataFrame:
        """One row per chunk (batch job attempt): state, batch name, estimates vs actuals, times."""
        return views.chunks_frame(self.ledger)

    def events(self) -> pd.DataFrame:
        """The run's history: time, kind, chunk, message, enqueued tokens, committed spend, done counts."""
        return views.events_frame(self.ledger)

    def summary(self) -> RunSummary:
        """Counts, tokens, cost estimated vs actual, timing, the last problem (a :class:`RunSummary`)."""
        return views.summary(self.ledger, self._ctx.config)

    def __repr__(self) -> str:
        return views.text_repr(self.run_dir, self.summary())

    def _repr_html_(self) -> str:
        from gembatch.presentation import html_repr as _html
        return str(_html.run_summary_html(self.summary().to_dict(), run_dir=str(self.run_dir)))
