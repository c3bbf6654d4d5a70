"""REST endpoints that operate a run (the Run facade's operations, one route each)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import Body, FastAPI, HTTPException, Query

from gembatch.inputs.values import check_budget
from gembatch.presentation.summary_view import trouble_text
from gembatch.server._models import BudgetBody, DeadlineBody, RealtimeBody

__all__ = ["OPERATION_ROUTES", "add_run_operations"]

# Run method → the route that performs it (checked against the Run class by the parity test).
OPERATION_ROUTES = {
    "pause": ("POST", "/v1/runs/{run_id}/pause"),
    "resume": ("POST", "/v1/runs/{run_id}/resume"),
    "retry_failed": ("POST", "/v1/runs/{run_id}/retry"),
    "set_budget": ("POST", "/v1/runs/{run_id}/set-budget"),
    "set_deadline": ("POST", "/v1/runs/{run_id}/set-deadline"),
    "finish_realtime": ("POST", "/v1/runs/{run_id}/finish-realtime"),
    "events": ("GET", "/v1/runs/{run_id}/events"),
    "cancel": ("POST", "/v1/runs/{run_id}/cancel"),
    "cleanup": ("POST", "/v1/runs/{run_id}/cleanup"),
    "summary": ("GET", "/v1/runs/{run_id}"),
    "wait": ("GET", "/v1/runs/{run_id}"),  # ?wait_s=S: answers when the run is done or S have passed
    "results": ("GET", "/v1/runs/{run_id}/results"),
    "chunks": ("GET", "/v1/runs/{run_id}/chunks"),
    "result_tables": ("GET", "/v1/runs/{run_id}"),  # the summary's result_tables
    "iter_results": ("GET", "/v1/runs/{run_id}/results"),  # ?offset=&limit=: a page of the results
    "export_results": ("GET", "/v1/runs/{run_id}/results"),
}
MAX_WAIT_S = 60.0


def _answer(run_id: str, run: Any, **extra: Any) -> dict[str, Any]:
    """The run's summary, plus ``problem``: its last error or back-off in words (``null`` if none)."""
    summary = run.summary()
    trouble = trouble_text(summary)
    return {"run_id": run_id, **extra, "summary": summary.to_dict(), "problem": trouble or None}


def add_run_operations(app: FastAPI, get_run: Callable[[str], Any], auth: Any) -> None:
    """Add pause, resume, retry, set-budget, set-deadline, finish-realtime, events and status with
    ``wait_s``."""
    deps = [auth]
    realtime_threads: dict[str, threading.Thread] = {}

    @app.get("/v1/runs/{run_id}", dependencies=deps, tags=["runs"])
    def run_summary(
        run_id: str,
        wait_s: float = Query(0.0, ge=0, le=MAX_WAIT_S, description="answer once done, or after S seconds"),
    ) -> dict[str, Any]:
        run = get_run(run_id)
        deadline = time.monotonic() + wait_s
        while wait_s and not run.summary().done and time.monotonic() < deadline:
            time.sleep(min(0.2, max(deadline - time.monotonic(), 0)))
        return _answer(run_id, run)

    @app.post("/v1/runs/{run_id}/pause", dependencies=deps, tags=["runs"])
    def pause(run_id: str) -> dict[str, Any]:
        run = get_run(run_id)
        run.pause()
        return _answer(run_id, run)

    @app.post("/v1/runs/{run_id}/resume", dependencies=deps, tags=["runs"])
    def resume(run_id: str) -> dict[str, Any]:
        run = get_run(run_id)
        run.resume()
        run.start()  # the background driver goes on (harmless when it is alive)
        return _answer(run_id, run)

    @app.post("/v1/runs/{run_id}/retry", dependencies=deps, tags=["runs"])
    def retry(run_id: str) -> dict[str, Any]:
        run = get_run(run_id)
        n = run.retry_failed()
        run.start()
        return _answer(run_id, run, requeued=n)

    @app.post("/v1/runs/{run_id}/set-budget", dependencies=deps, tags=["runs"])
    def set_budget(run_id: str, body: BudgetBody = Body(...)) -> dict[str, Any]:  # noqa: B008
        budget = check_budget(body.budget_usd, field="budget_usd")
        run = get_run(run_id)
        run.set_budget(budget)
        run.start()
        return _answer(run_id, run)

    @app.post("/v1/runs/{run_id}/set-deadline", dependencies=deps, tags=["runs"])
    def set_deadline(run_id: str, body: DeadlineBody = Body(...)) -> dict[str, Any]:  # noqa: B008
        run = get_run(run_id)
        at = run.set_deadline(body.deadline, body.deadline_usd)
        run.start()
        return _answer(run_id, run, deadline=at)

    @app.post("/v1/runs/{run_id}/finish-realtime", dependencies=deps, tags=["runs"], status_code=202)
    def finish_realtime(run_id: str, body: RealtimeBody | None = None) -> dict[str, Any]:
        run = get_run(run_id)
        if run.summary().state == "paused":
            raise HTTPException(409, detail="the run is paused and sends nothing: POST .../resume first")
        options = body.options() if body else {}
        busy = realtime_threads.get(run_id)
        if busy is None or not busy.is_alive():

            def drive() -> None:
                try:
                    run.finish_realtime(progress=False, **options)
                except Exception as exc:  # a thread has nobody to raise to: record it in the run
                    run.store.event("error", f"finish_realtime stopped: {type(exc).__name__}: {exc}")

            realtime_threads[run_id] = threading.Thread(
                target=drive, name=f"gembatch-realtime-{run_id}", daemon=True
            )
            realtime_threads[run_id].start()
        return _answer(run_id, run, started=busy is None or not busy.is_alive())

    @app.get("/v1/runs/{run_id}/events", dependencies=deps, tags=["runs"])
    def events(run_id: str, tail: int = Query(100, ge=0, le=100_000)) -> dict[str, Any]:
        frame = get_run(run_id).events()
        if tail:
            frame = frame.tail(tail)
        items = json.loads(frame.to_json(orient="records", date_format="iso"))
        return {"run_id": run_id, "events": items}
