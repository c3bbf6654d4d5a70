"""Operating a run over HTTP (pause, resume, retry, set-budget, finish-realtime, events, status with
wait_s), JSON errors instead of 500s, and every run operation reachable from every face."""

from __future__ import annotations

import inspect
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import gembatch as gb
from gembatch.cli import build_parser
from gembatch.server import create_app
from gembatch.server._models import NOT_IN_BODY, CreateParams
from gembatch.server._operate import OPERATION_ROUTES
from gembatch.workflow.request import RunRequest

TOKEN = "operate-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MODEL = "gemini-2.5-flash-lite"


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with gb.emulator.running(speed=50_000) as emu:
        yield emu


@pytest.fixture
def api(emu: Any, tmp_path: Any) -> Iterator[TestClient]:
    app = create_app(tmp_path / "runs", token=TOKEN, client_factory=emu.client, resume=False)
    with TestClient(app) as client:
        yield client


def _articles(n: int) -> list[dict[str, Any]]:
    frame = gb.synthetic_articles(n, mean_chars=500, seed=8)
    return [{"id": str(r.id), "text": r.text} for r in frame.itertuples()]


def test_pause_resume_budget_retry_events_and_waiting_status(api: TestClient) -> None:
    body = {"run_id": "ops", "articles": _articles(6), "model": MODEL, "chunk_tokens": 400}
    assert api.post("/v1/runs", headers=AUTH, json=body).status_code == 201
    paused = api.post("/v1/runs/ops/pause", headers=AUTH)
    assert paused.status_code == 200, paused.text
    assert paused.json()["summary"]["state"] == "paused"

    budget = api.post("/v1/runs/ops/set-budget", headers=AUTH, json={"budget_usd": 2.5})
    assert budget.status_code == 200, budget.text
    assert budget.json()["summary"]["budget_usd"] == 2.5
    bad = api.post("/v1/runs/ops/set-budget", headers=AUTH, json={"budget_usd": -1})
    assert bad.status_code == 400
    assert "budget" in bad.json()["detail"]
    assert api.post("/v1/runs/ops/set-budget", headers=AUTH, json={"usd": 1}).status_code == 422

    before = time.time()
    deadline = api.post("/v1/runs/ops/set-deadline", headers=AUTH, json={"deadline": "2h"})
    assert deadline.status_code == 200, deadline.text
    assert before + 7190 < deadline.json()["deadline"] == deadline.json()["summary"]["deadline_at"]
    bad = api.post("/v1/runs/ops/set-deadline", headers=AUTH, json={"deadline": "soonish"})
    assert bad.status_code == 400
    assert "deadline" in bad.json()["detail"]
    cleared = api.post("/v1/runs/ops/set-deadline", headers=AUTH, json={"deadline": None})
    assert cleared.status_code == 200
    assert cleared.json()["summary"]["deadline_at"] is None

    resumed = api.post("/v1/runs/ops/resume", headers=AUTH)
    assert resumed.status_code == 200
    assert resumed.json()["summary"]["state"] != "paused"
    done = api.get("/v1/runs/ops", headers=AUTH, params={"wait_s": 60})
    assert done.status_code == 200
    summary = done.json()["summary"]
    assert (summary["done"], summary["succeeded"]) == (True, 6)
    assert api.get("/v1/runs/ops", headers=AUTH, params={"wait_s": 999}).status_code == 422

    events = api.get("/v1/runs/ops/events", headers=AUTH, params={"tail": 0}).json()["events"]
    kinds = [e["kind"] for e in events]
    assert {"pause", "resume", "budget", "submitted"} <= set(kinds)
    assert len(api.get("/v1/runs/ops/events", headers=AUTH, params={"tail": 2}).json()["events"]) == 2

    retry = api.post("/v1/runs/ops/retry", headers=AUTH)
    assert retry.status_code == 200
    assert retry.json()["requeued"] == 0


def test_finish_realtime_over_http(api: TestClient) -> None:
    body = {"run_id": "rt", "articles": _articles(4), "model": MODEL}
    assert api.post("/v1/runs", headers=AUTH, json=body).status_code == 201
    api.post("/v1/runs/rt/pause", headers=AUTH)
    refused = api.post("/v1/runs/rt/finish-realtime", headers=AUTH, json={"rpm": 600})
    assert refused.status_code == 409
    assert "paused" in refused.json()["detail"]
    api.post("/v1/runs/rt/resume", headers=AUTH)
    started = api.post("/v1/runs/rt/finish-realtime", headers=AUTH, json={"rpm": 600})
    assert started.status_code == 202, started.text
    summary = api.get("/v1/runs/rt", headers=AUTH, params={"wait_s": 60}).json()["summary"]
    assert (summary["done"], summary["succeeded"], summary["mode"]) == (True, 4, "realtime")
    assert api.post("/v1/runs/rt/finish-realtime", headers=AUTH, json={"rpm": 0}).status_code == 422


def test_unknown_runs_and_unreachable_services_answer_json_not_500(emu: Any, tmp_path: Any) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    from google import genai
    from google.genai import types

    def unreachable() -> Any:
        options = types.HttpOptions(base_url=f"http://127.0.0.1:{closed}", api_version="v1beta")
        return genai.Client(api_key="x", http_options=options)

    app = create_app(tmp_path / "runs", token=TOKEN, client_factory=unreachable, resume=False)
    with TestClient(app, raise_server_exceptions=False) as api:
        for method, path in set(OPERATION_ROUTES.values()):
            body = {"budget_usd": 1.0} if path.endswith("set-budget") else None
            body = {"deadline": "2h"} if path.endswith("set-deadline") else body
            resp = api.request(method, path.replace("{run_id}", "nope"), headers=AUTH, json=body)
            assert resp.status_code == 404, (path, resp.text)
            assert "no run 'nope'" in resp.json()["detail"]
        job = api.get("/v1/jobs/abc123", headers=AUTH)
        assert job.status_code == 503, job.text
        assert "cannot reach the service" in job.json()["detail"]

        body = {"run_id": "cut-off", "articles": _articles(2), "model": MODEL}
        assert api.post("/v1/runs", headers=AUTH, json=body).status_code == 201
        deadline = time.monotonic() + 60
        while (status := api.get("/v1/runs/cut-off", headers=AUTH).json())["problem"] is None:
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert "cannot reach the service: connection refused" in status["problem"]
        assert "ConnectError" in status["summary"]["last_error"]


# Run methods that are not operations a terminal or an HTTP client asks for (construction,
# properties, the notebook panel, the in-process driver).
NOT_OPERATIONS = {"create", "open", "step", "start", "stop", "monitor", "config", "transport", "client",
                  "run_id", "store", "ledger", "is_running"}  # fmt: skip
SKIPPED_UNTIL_BUILT: set[str] = set()  # operations still being built on some face
# Run method → the CLI command that performs it.
CLI_COMMANDS = {"pause": "pause", "resume": "resume", "retry_failed": "retry", "set_budget": "set-budget",
                "set_deadline": "set-deadline", "finish_realtime": "finish-realtime", "events": "events",
                "cancel": "cancel",
                "summary": "status", "wait": "wait", "results": "results", "chunks": "status",
                "cleanup": "cleanup", "result_tables": "status", "iter_results": "results",
                "export_results": "results"}  # fmt: skip


def _operations() -> set[str]:
    public = {n: v for n, v in vars(gb.Run).items() if not n.startswith("_")}
    names = {n for n, v in public.items() if callable(v) or isinstance(v, property | classmethod)}
    return {n for n in names if n not in NOT_OPERATIONS and not inspect.isclass(public[n])}


def test_every_run_operation_is_on_the_cli_and_rest(tmp_path: Any) -> None:
    operations = _operations()
    known = {"pause", "resume", "retry_failed", "set_budget", "finish_realtime", "events", "cancel"}
    assert known <= operations
    commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    routes = {(m, r.path) for r in create_app(tmp_path, token="t").routes if isinstance(r, APIRoute)
              for m in r.methods}  # fmt: skip
    for name in sorted(operations - SKIPPED_UNTIL_BUILT):
        assert name in CLI_COMMANDS, f"Run.{name} has no CLI command in this test's map"
        assert CLI_COMMANDS[name] in commands, f"Run.{name}: no `gembatch {CLI_COMMANDS[name]}`"
        assert name in OPERATION_ROUTES, f"Run.{name} has no REST route"
        assert OPERATION_ROUTES[name] in routes, f"Run.{name}: {OPERATION_ROUTES[name]} is not served"


def test_every_run_request_field_is_on_the_cli_and_in_the_rest_schema() -> None:
    parser = build_parser()
    run_parser = parser._subparsers._group_actions[0].choices["run"]  # type: ignore[union-attr]
    flags = {a.dest for a in run_parser._actions}
    renamed = {"inputs": "file", "budget_usd": "budget", "system_instruction": "system",
               "pending_limit_s": "pending_limit", "realtime": "rpm"}  # fmt: skip
    python_only = {"estimator", "project", "run_options"}  # Python objects: no terminal spelling
    body = set(CreateParams.model_fields) | {"schema"}
    for field in RunRequest.field_names():
        if field not in python_only:
            assert renamed.get(field, field) in flags, f"RunRequest.{field} has no `gembatch run` flag"
        if field not in NOT_IN_BODY:
            name = "output_schema" if field == "schema" else field
            assert name in body, f"RunRequest.{field} is missing from the REST body (CreateParams)"
