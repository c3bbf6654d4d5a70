"""The FastAPI application: estimates, durable runs and single jobs over HTTP."""

from __future__ import annotations

import io
import json
import re
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from google.genai import errors
from pydantic import ValidationError

from gembatch._version import __version__
from gembatch.errors import (
    BackendError,
    BudgetExceeded,
    GembatchError,
    InputError,
    JobNotFound,
    QuotaExceeded,
    RunMismatch,
    ServiceUnreachable,
)
from gembatch.server._auth import BearerAuth, run_path
from gembatch.server._limits import BodyLimit
from gembatch.server._models import ArticlesBody, CreateParams, CreateRunBody, JobBody, RunParams
from gembatch.server._operate import add_run_operations
from gembatch.server._registry import RunRegistry, UnknownRun
from gembatch.workflow.request import RunRequest

MAX_BODY_BYTES = 256 * 1024 * 1024
_UPLOAD_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
_JOB_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")
_BODY_DOC = {
    "requestBody": {
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CreateRunBody"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "params": {"type": "string", "description": "JSON of the run parameters"},
                    },
                    "required": ["file"],
                }
            },
        }
    }
}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe records (NaN → null, timestamps → ISO 8601)."""
    out: list[dict[str, Any]] = json.loads(frame.reset_index().to_json(orient="records", date_format="iso"))
    return out


def _request(inputs: Any, params: RunParams, **extra: Any) -> RunRequest:
    """The RunRequest of a body; a rule it breaks answers 422 naming the field, like a type error."""
    try:
        request = RunRequest(inputs=inputs, **params.request_fields(), **extra)
    except InputError as exc:
        raise RequestValidationError(
            [{"loc": ("body", exc.field or "body"), "msg": str(exc), "type": "value_error"}]
        ) from None
    return request.load()  # read the articles now, while an uploaded file still exists


async def _run_request(
    request: Request, model: type[RunParams], form_model: type[RunParams], **extra: Any
) -> RunRequest:
    """A RunRequest from a JSON body or a multipart upload (file + params JSON)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InputError(
                "multipart body needs a 'file' part (.jsonl, .json, .csv or .parquet)", field="file"
            )
        name = upload.filename or ""
        suffix = Path(name).suffix.lower()
        if suffix not in _UPLOAD_SUFFIXES:
            raise InputError(
                f"uploaded file {name[:80]!r}: use a .jsonl, .json, .csv or .parquet file", field="file"
            )
        raw_params = form.get("params") or "{}"
        params = form_model.model_validate(json.loads(str(raw_params)))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(await upload.read())
            return _request(path, params, **extra)
    try:
        body = await request.json()
    except ValueError:
        raise InputError("request body must be JSON (or multipart/form-data with a file)") from None
    params = model.model_validate(body)
    return _request(params.source(), params, **extra)  # type: ignore[attr-defined]


def create_app(
    runs_dir: str | Path,
    *,
    token: str,
    client_factory: Any = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    resume: bool = True,
) -> FastAPI:
    """The REST API over ``runs_dir``; every endpoint but ``/healthz`` needs ``Bearer <token>``.

    ``client_factory`` makes the google-genai client (default :func:`gembatch.connect`).
    """
    from gembatch.transport.connect import connect, describe

    root = Path(runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    registry = RunRegistry(root, client_factory or connect)
    auth = Depends(BearerAuth(token))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if resume:
            registry.resume_all()
        yield
        registry.stop_all()

    app = FastAPI(
        title="gembatch",
        version=__version__,
        description="Plan, run and collect Gemini Batch API workloads. Send `Authorization: Bearer <token>`.",
        lifespan=lifespan,
    )
    app.state.registry = registry

    @app.exception_handler(GembatchError)
    async def _gembatch_error(_: Request, exc: GembatchError) -> JSONResponse:
        code = {
            JobNotFound: 404,
            BackendError: 502,
            ServiceUnreachable: 503,
            InputError: 400,
            BudgetExceeded: 402,
            QuotaExceeded: 400,
            RunMismatch: 409,
            UnknownRun: 404,
        }.get(type(exc), 400)
        return JSONResponse({"detail": str(exc), "error": type(exc).__name__}, status_code=code)

    @app.exception_handler(errors.APIError)
    async def _service_error(_: Request, exc: errors.APIError) -> JSONResponse:
        code = exc.code if isinstance(exc.code, int) and 400 <= exc.code < 500 else 502
        return JSONResponse(
            {"detail": f"Gemini: {exc.status}: {exc.message}", "error": "BackendError"}, status_code=code
        )

    async def _unreachable(_: Request, exc: Exception) -> JSONResponse:
        detail = f"cannot reach the service: {type(exc).__name__}: {exc} (proxy settings?)"
        return JSONResponse({"detail": detail, "error": "ServiceUnreachable"}, status_code=503)

    for transport_error in _transport_errors():
        app.add_exception_handler(transport_error, _unreachable)

    @app.exception_handler(ValidationError)
    async def _validation_error(_: Request, exc: ValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(json.JSONDecodeError)
    async def _bad_json(_: Request, exc: json.JSONDecodeError) -> JSONResponse:
        return JSONResponse({"detail": f"params is not valid JSON: {exc.msg}"}, status_code=400)

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @app.get("/v1/backend", dependencies=[auth], tags=["service"])
    def backend() -> dict[str, Any]:
        return {"backend": describe(registry.client)}

    @app.post("/v1/estimate", dependencies=[auth], tags=["plan"], openapi_extra=_BODY_DOC)
    async def estimate(request: Request) -> dict[str, Any]:
        req = await _run_request(request, ArticlesBody, RunParams)
        plan = req.plan(check_budget=False)  # an estimate shows what is over budget rather than refusing
        return {
            "estimate": json.loads(json.dumps(plan.cost.to_dict(), default=str)),
            "plan": {
                "policy": plan.policy,
                "quota_tokens": plan.quota_tokens,
                "jobs": len(plan.chunks),
                "waves": int(plan.chunks["wave"].nunique()),
                "est_cost_usd": float(plan.est_cost_usd),
                "over_budget": req.budget_problem(plan.cost) is not None,
                "chunks": _records(plan.chunks),
            },
        }

    @app.post("/v1/runs", dependencies=[auth], tags=["runs"], status_code=201, openapi_extra=_BODY_DOC)
    async def create_run(request: Request) -> dict[str, Any]:
        req = await _run_request(request, CreateRunBody, CreateParams)
        run_id = req.run_id or registry.new_id()
        run = registry.create(run_path(root, run_id), req.replace(run_id=run_id))
        return {"run_id": run_id, "summary": run.summary().to_dict()}

    @app.get("/v1/runs", dependencies=[auth], tags=["runs"])
    def list_runs() -> dict[str, Any]:
        return {"runs": registry.ids()}

    def _run(run_id: str) -> Any:
        return registry.get_run(run_id, run_path(root, run_id))

    add_run_operations(app, _run, auth)  # status (?wait_s), pause, resume, retry, set-budget, events...

    @app.get("/v1/runs/{run_id}/chunks", dependencies=[auth], tags=["runs"])
    def run_chunks(run_id: str) -> dict[str, Any]:
        return {"run_id": run_id, "chunks": _records(_run(run_id).chunks())}

    @app.get("/v1/runs/{run_id}/results", dependencies=[auth], tags=["runs"], response_model=None)
    def run_results(
        run_id: str,
        format: str = Query("json", pattern="^(json|csv|jsonl|parquet)$"),
        offset: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=5000),
        join: bool = False,
    ) -> dict[str, Any] | Response:
        frame = _run(run_id).results(join=join)
        if format == "json":
            page = frame.iloc[offset : offset + limit]
            return {
                "run_id": run_id,
                "total": len(frame),
                "offset": offset,
                "limit": limit,
                "items": _records(page),
            }
        filename = f"{run_id}-results.{format}"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if format == "parquet":
            buf = io.BytesIO()
            frame.to_parquet(buf)
            return Response(buf.getvalue(), media_type="application/vnd.apache.parquet", headers=headers)
        media = "text/csv" if format == "csv" else "application/x-ndjson"
        return StreamingResponse(_stream(frame, format), media_type=media, headers=headers)

    @app.post("/v1/runs/{run_id}/cancel", dependencies=[auth], tags=["runs"])
    def cancel_run(run_id: str) -> dict[str, Any]:
        run = _run(run_id)
        run.cancel()
        return {"run_id": run_id, "summary": run.summary().to_dict()}

    @app.post("/v1/jobs", dependencies=[auth], tags=["jobs"], status_code=201)
    def submit_job(body: JobBody) -> dict[str, Any]:
        from gembatch.runs.jobs import submit_job as submit

        name = submit(
            registry.client,
            body.contents,
            model=body.model,
            prompt=body.prompt,
            display_name=body.display_name,
        )
        return {"job_id": name.removeprefix("batches/"), "name": name}

    def _job_name(job_id: str) -> str:
        if not _JOB_ID.fullmatch(job_id):
            raise HTTPException(400, detail=f"invalid job id {job_id[:80]!r}: lowercase letters, digits, '-'")
        return f"batches/{job_id}"

    @app.get("/v1/jobs/{job_id}", dependencies=[auth], tags=["jobs"])
    def job_status(job_id: str) -> dict[str, Any]:
        from gembatch.runs.jobs import job_status as status

        return _remote(lambda: status(registry.client, _job_name(job_id)))

    @app.get("/v1/jobs/{job_id}/results", dependencies=[auth], tags=["jobs"])
    def job_results(job_id: str) -> dict[str, Any]:
        from gembatch.runs.jobs import job_results as results

        frame = _remote(lambda: results(registry.client, _job_name(job_id)))
        return {"job_id": job_id, "items": _records(frame)}

    @app.post("/v1/runs/{run_id}/cleanup", dependencies=[auth], tags=["runs"])
    def cleanup_run(run_id: str, dry_run: bool = False) -> dict[str, Any]:
        from gembatch.errors import RunBusy

        try:
            report = _run(run_id).cleanup(dry_run=dry_run)
        except RunBusy as exc:
            raise HTTPException(409, detail=str(exc)) from None
        return {"run_id": run_id, "cleanup": report.to_dict()}

    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    return app


def _transport_errors() -> list[type[Exception]]:
    """The HTTP clients' connection errors (httpx, and httpx2 when the SDK uses it)."""
    found: list[type[Exception]] = [httpx.TransportError]
    try:
        import httpx2
    except ImportError:
        return found
    return [*found, httpx2.TransportError]


def _remote(call: Any) -> Any:
    """Map the SDK's errors for a single job to HTTP answers (404 stays 404)."""
    from google.genai import errors

    try:
        return call()
    except errors.APIError as exc:
        code = exc.code if isinstance(exc.code, int) and 400 <= exc.code < 600 else 502
        raise HTTPException(
            code if code < 500 else 502, detail=f"Gemini: {exc.status}: {exc.message}"
        ) from None


def _stream(frame: pd.DataFrame, fmt: str, rows: int = 2000) -> Iterator[bytes]:
    """CSV or JSONL in slices of ``rows``, so a large result never sits in memory twice."""
    flat = frame.reset_index()
    for start in range(0, max(len(flat), 1), rows):
        part = flat.iloc[start : start + rows]
        if fmt == "csv":
            yield part.to_csv(index=False, header=start == 0).encode()
        elif len(part):
            yield part.to_json(orient="records", lines=True, date_format="iso").encode()
