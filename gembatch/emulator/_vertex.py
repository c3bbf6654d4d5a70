"""The Vertex AI ``batchPredictionJobs`` surface, as the google-genai SDK drives it with ``vertexai=True``.

A Vertex job is a projection of one of the emulator's own batch jobs, so it shares their clock,
faults (by the same operation names: ``batches.create``, ``batches.get``, …), quotas and
generated answers. At create the input JSONL is read from the Cloud Storage stand-in and handed
to an emulator batch job as inline requests; once the job succeeds its predictions are written
back under the destination prefix as ``prediction-model-<time>/predictions.jsonl``, one line per
request with the request echoed, as Vertex does. A ``bq://`` input table and output table go
through the BigQuery stand-in the same way (``_vertex_bqio``). Jobs expire on Vertex's terms:
72 h queued, then 24 h running (a job cut off while running ends FAILED).
"""

from __future__ import annotations

import json
import logging
import random
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gembatch.emulator._errors import ApiError, invalid
from gembatch.emulator._jobs import RUN_EXPIRED
from gembatch.emulator._persist import read_json, write_json
from gembatch.emulator._reply import Call, Reply, int_param, json_body
from gembatch.emulator._vertex_bqio import (
    Unreadable,
    io_configs,
    output_rows,
    row_checker,
    split_bq,
    stage_table,
    write_predictions,
)
from gembatch.emulator._vertex_gcs import read_requests, split_gs
from gembatch.errors import BackendError

__all__ = ["VertexApi", "is_vertex_path"]

_PATH = re.compile(
    r"^/(?P<ver>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"(?P<rest>batchPredictionJobs(?:/(?P<id>[^/:]+))?(?::(?P<verb>\w+))?"
    r"|publishers/google/models/(?P<model>[^/:]+):(?P<method>\w+))/?$"
)
_MODEL = re.compile(r"^(?:publishers/google/models/|models/)?(?P<id>[A-Za-z0-9._-]+)$")
_FILTER = re.compile(r'^\s*(state|display_name)\s*=\s*"([^"]*)"\s*$')
logger = logging.getLogger("gembatch.emulator")
_DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "EXPIRED"})


def is_vertex_path(path: str) -> bool:
    return _PATH.match(path) is not None


def _rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class VertexApi:
    """Handlers of the Vertex surface, bound to the emulator's batch service and its storage stand-in."""

    def __init__(self, app: Any, storage: Callable[[], Any], bigquery: Callable[[str], Any] | None = None):
        self.app = app
        self._storage_factory = storage
        self._storage: Any = None
        self._bigquery_factory = bigquery
        self._bigquery: dict[str, Any] = {}
        self.root = app.state_dir / "vertex"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._rng = random.Random(app.config.seed + 19)
        self._jobs: dict[str, dict[str, Any]] = {}
        for path in self.root.glob("*.json"):
            record = read_json(path)
            self._jobs[record["id"]] = record
        self._stop = threading.Event()
        self._exporter: threading.Thread | None = None
        if any(r["output_dir"] is None for r in self._jobs.values()):
            self._start_exporter()

    # --- the service's own writer: predictions leave as soon as a job succeeds -----------------
    def _start_exporter(self) -> None:
        with self._lock:
            if self._exporter is None:
                self._exporter = threading.Thread(
                    target=self._export_loop, name="gembatch-vertex-export", daemon=True
                )
                self._exporter.start()

    def _export_loop(self) -> None:
        while not self._stop.wait(0.05):
            with self._lock:
                waiting = [r for r in self._jobs.values() if r["output_dir"] is None and not r.get("final")]
            for record in waiting:
                try:
                    self._render(record)
                except Exception:  # reported when the job is read; the loop must go on
                    logger.exception("emulator: exporting the predictions of %s failed", record["id"])
                    record["final"] = True

    def stop(self) -> None:
        self._stop.set()
        if self._exporter is not None:
            self._exporter.join(timeout=5)

    @property
    def storage(self) -> Any:
        if self._storage is None:
            self._storage = self._storage_factory()
        return self._storage

    def bigquery(self, project: str) -> Any:
        """The BigQuery stand-in's client for ``project`` (made on the first BigQuery job)."""
        if project not in self._bigquery:
            if self._bigquery_factory is None:
                raise ApiError(400, "BigQuery input is not emulated here.", status="FAILED_PRECONDITION")
            try:
                self._bigquery[project] = self._bigquery_factory(project)
            except BackendError as exc:
                raise ApiError(400, f"BigQuery is not reachable from the emulator: {exc}",
                               status="FAILED_PRECONDITION") from None  # fmt: skip
        return self._bigquery[project]

    # --- the request pipeline ---------------------------------------------------------------
    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               body: bytes) -> Reply:  # fmt: skip
        m = _PATH.match(path)
        if m is None:
            return Reply(404, b"{}")
        try:
            key = self._authorise(headers)
            if m.group("model"):
                return self._model_method(m, key, query, headers, body)
            ident, verb = m.group("id"), m.group("verb")
            where = (m.group("project"), m.group("location"))
            if ident is None and method == "POST":
                return self._pipeline("batches.create", lambda: self._create(where, key, json_body(body)))
            if ident is None and method == "GET":
                return self._pipeline("batches.list", lambda: self._list(where, key, query))
            if ident is not None and verb is None and method == "GET":
                return self._pipeline("batches.get", lambda: self._render(self._record(where, key, ident)))
            if ident is not None and verb == "cancel" and method == "POST":
                return self._pipeline("batches.cancel", lambda: self._cancel(where, key, ident))
            if ident is not None and verb is None and method == "DELETE":
                return self._pipeline("batches.delete", lambda: self._delete(where, key, ident))
            raise ApiError(404, f"Method {method} is not supported on {path}.")
        except ApiError as exc:
            return Reply(exc.code, exc.body(), exc.headers)

    def _authorise(self, headers: Mapping[str, str]) -> str:
        """Vertex callers send ``Authorization: Bearer <token>`` (or an API key); the token plays the key."""
        auth = str(headers.get("authorization") or "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        key = token or str(headers.get("x-goog-api-key") or "")
        if not key:
            raise ApiError(401, "Request is missing required authentication credential. Expected OAuth 2 "
                                "access token, login cookie or other valid authentication credential.",
                           status="UNAUTHENTICATED")  # fmt: skip
        keys = self.app.config.api_keys
        if keys is not None and key not in keys:
            raise ApiError(401, "Request had invalid authentication credentials.", status="UNAUTHENTICATED")
        return key

    def _pipeline(self, op: str, work: Callable[[], Any]) -> Reply:
        """Latency, injected faults and random server errors, as the Developer-API half applies them."""
        profile = self.app.config.profile
        if profile.http_latency_ms > 0:
            time.sleep(profile.http_latency_ms / 1000.0)
        fault = self.app.faults.take(op)
        if fault is not None and fault.status is not None and not fault.drop_response:
            raise ApiError(int(fault.status), fault.message)
        if fault is None:
            roll = self._rng.random()
            if roll < profile.http_500_rate:
                raise ApiError(500)
            if roll < profile.http_500_rate + profile.http_503_rate:
                raise ApiError(503)
        reply = Reply.json(work())
        if fault is not None and fault.drop_response:
            how = str(fault.drop_response).lower()
            if how == "disconnect":
                return Reply(disconnect=True)
            raise ApiError(int(fault.status or (503 if how == "503" else 500)), fault.message)
        return reply

    def _model_method(self, m: re.Match[str], key: str, query: Mapping[str, str],
                      headers: Mapping[str, str], body: bytes) -> Reply:  # fmt: skip
        """Real-time calls (``generateContent``, ``countTokens``) served by the Developer-API half."""
        from gembatch.emulator._routes import route

        found = route("POST", f"/v1beta/models/{m.group('model')}:{m.group('method')}", query)
        if found is None:
            raise ApiError(404, f"Method {m.group('method')} is not supported.")
        self.app.stats.request(found.op)
        call = Call(found, query, {**headers, "x-goog-api-key": key}, body)
        reply: Reply = self.app.api.handle(call)
        return reply

    # --- records ------------------------------------------------------------------------------
    def _project(self, key: str) -> str:
        return str(self.app.config.project_of(key))

    def _name(self, record: Mapping[str, Any]) -> str:
        return (
            f"projects/{record['project']}/locations/{record['location']}/batchPredictionJobs/{record['id']}"
        )

    def _rows(self, record: Mapping[str, Any]) -> Path:
        return self.root / f"{record['id']}.rows.jsonl"

    def _save(self, record: dict[str, Any]) -> None:
        write_json(self.root / f"{record['id']}.json", record)

    def _record(self, where: tuple[str, str], key: str, ident: str) -> dict[str, Any]:
        with self._lock:
            record = self._jobs.get(ident)
        if (record is None or (record["project"], record["location"]) != where
                or record["owner"] != self._project(key)):  # fmt: skip
            raise ApiError(404, f"The BatchPredictionJob does not exist: {ident}", status="NOT_FOUND")
        return record

    # --- create -------------------------------------------------------------------------------
    def _create(self, where: tuple[str, str], key: str, body: dict[str, Any]) -> dict[str, Any]:
        served, model_id = self._served(body.get("model"))
        source, output = body.get("inputConfig") or {}, body.get("outputConfig") or {}
        ident = str(secrets.randbelow(9 * 10**18) + 10**18)
        record: dict[str, Any] = {
            "id": ident, "project": where[0], "location": where[1], "owner": self._project(key),
            "internal": None, "model": model_id, "output_dir": None,
            "display_name": body.get("displayName") or f"vertex-job-{ident}",
        }  # fmt: skip
        if source.get("bigquerySource") or source.get("instancesFormat") == "bigquery":
            requests = self._bq_input(record, source, output, row_checker(served, self.app, record["owner"]))
        else:
            requests = self._gcs_input(record, source, output)
        if requests:
            # Inline to the batch service: its output then lives with the job, not as an expiring file.
            items = [{"request": {k: v for k, v in r.items() if k != "labels"}, "metadata": {"key": str(i)}}
                     for i, r in enumerate(requests)]  # fmt: skip
            batch = {"batch": {"displayName": record["display_name"],
                               "inputConfig": {"requests": {"requests": items}}}}  # fmt: skip
            op = self.app.batches.create(served, batch, "generate", record["owner"], deadline="vertex")
            record["internal"] = str(op["name"])
            (self.root / f"{ident}.requests.jsonl").write_text(
                "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests), "utf-8"
            )
        with self._lock:
            self._jobs[ident] = record
            self._save(record)
        self._start_exporter()
        return self._render(record)

    def _gcs_input(self, record: dict[str, Any], source: Mapping[str, Any],
                   output: Mapping[str, Any]) -> list[dict[str, Any]]:  # fmt: skip
        uris = (source.get("gcsSource") or {}).get("uris") or []
        if source.get("instancesFormat") not in (None, "jsonl") or not uris:
            raise invalid("input_config", "give instancesFormat 'jsonl' and gcsSource.uris")
        dest = (output.get("gcsDestination") or {}).get("outputUriPrefix")
        if not dest:
            raise invalid("output_config.gcs_destination.output_uri_prefix", "is required")
        split_gs(dest, "output_config.gcs_destination.output_uri_prefix")
        requests = read_requests(self.storage, uris)
        record.update(input_uris=list(uris), dest=str(dest))
        return requests

    def _bq_input(self, record: dict[str, Any], source: Mapping[str, Any], output: Mapping[str, Any],
                  check: Callable[[dict[str, Any]], str | None]) -> list[dict[str, Any]]:  # fmt: skip
        """Read the input table; rows whose request is unusable keep their status for the output."""
        uri = str((source.get("bigquerySource") or {}).get("inputUri") or "")
        project = split_bq(uri, "input_config.bigquery_source.input_uri", table=True)[0]
        dest = (output.get("bigqueryDestination") or {}).get("outputUri")
        split_bq(dest, "output_config.bigquery_destination.output_uri", table=False)
        record.update(format="bigquery", input_uri=uri, dest=dest, output_table=None, bad=0)
        try:
            client = self.bigquery(project)
            schema, requests, record["bad"] = stage_table(client, uri, self._rows(record), check)
        except Unreadable as exc:  # the service accepts the job, then fails it at validation
            now = _rfc3339(self.app.clock.now())
            record.update(final=True, failed_at=now, error={"code": exc.code, "message": str(exc)})
            return []
        record["schema"] = schema
        return requests

    def _served(self, model: Any) -> tuple[Any, str]:
        m = _MODEL.match(str(model or ""))
        if m is None:
            raise invalid("model", f"{model!r} is not a publisher model name")
        served = self.app.api.lineup.get(m.group("id"), "batchGenerateContent", "v1beta")
        return served, str(served.id)

    # --- reads --------------------------------------------------------------------------------
    def _internal(self, record: Mapping[str, Any]) -> dict[str, Any]:
        op: dict[str, Any] = self.app.batches.get(record["internal"], record["owner"])
        return op

    def _render(self, record: dict[str, Any]) -> dict[str, Any]:
        if record["internal"] is None:  # failed at validation: no batch behind it
            at = record["failed_at"]
            op: dict[str, Any] = {"error": record["error"], "metadata": {
                "state": "FAILED", "createTime": at, "updateTime": at, "endTime": at}}  # fmt: skip
        else:
            op = self._internal(record)
        meta = op.get("metadata") or {}
        state = str(meta.get("state") or "").removeprefix("BATCH_STATE_")
        if state == "EXPIRED" and (op.get("error") or {}).get("message") == RUN_EXPIRED:
            state = "FAILED"  # cut off after 24 h of running: Vertex fails the job
        if state == "SUCCEEDED" and record["output_dir"] is None:
            with self._lock:  # the exporter and a reader may both get here: write once
                if record["output_dir"] is None:
                    self._export(record, op)
        elif state in _DONE:
            record["final"] = True
        stats = meta.get("batchStats") or {}
        job: dict[str, Any] = {
            "name": self._name(record),
            "displayName": record["display_name"],
            "model": f"publishers/google/models/{record['model']}",
            **io_configs(record),
            "state": f"JOB_STATE_{state or 'UNSPECIFIED'}",
            "createTime": meta.get("createTime"),
            "updateTime": meta.get("updateTime"),
        }  # fmt: skip
        if state not in ("PENDING", ""):
            job["startTime"] = meta.get("createTime")
        if meta.get("endTime"):
            job["endTime"] = meta["endTime"]
        counts = {"successfulCount": stats.get("successfulRequestCount"),
                  "failedCount": int(stats.get("failedRequestCount") or 0) + int(record.get("bad") or 0),
                  "incompleteCount": stats.get("pendingRequestCount")}  # fmt: skip
        job["completionStats"] = {k: str(v) for k, v in counts.items() if v not in (None, "0", 0)}
        if record["output_dir"] and record.get("format") == "bigquery":
            job["outputInfo"] = {"bigqueryOutputDataset": record["output_dir"],
                                 "bigqueryOutputTable": record["output_table"]}  # fmt: skip
        elif record["output_dir"]:
            job["outputInfo"] = {"gcsOutputDirectory": record["output_dir"]}
        if state in ("FAILED", "CANCELLED", "EXPIRED") and op.get("error"):
            job["error"] = {"code": op["error"].get("code"), "message": op["error"].get("message")}
        return job

    def _export(self, record: dict[str, Any], op: Mapping[str, Any]) -> None:
        """Write the job's predictions under its destination (once; the job is then final)."""
        output = (op.get("metadata") or {}).get("output") or {}
        items = (output.get("inlinedResponses") or {}).get("inlinedResponses") or []
        if record.get("format") == "bigquery":
            self._export_bq(record, items)
            return
        saved = (self.root / f"{record['id']}.requests.jsonl").read_text("utf-8")
        requests = [json.loads(raw) for raw in saved.splitlines() if raw]
        stamp = datetime.fromtimestamp(self.app.clock.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        processed = _rfc3339(self.app.clock.now())
        lines: list[bytes] = []
        for item in items:
            index = int((item.get("metadata") or {}).get("key", -1))
            request = requests[index] if 0 <= index < len(requests) else {}
            error = item.get("error")
            status = f"Bad Request: {json.dumps({'error': error})}" if error else ""
            out = {"status": status, "processed_time": processed, "request": request,
                   "response": item.get("response") or {}}  # fmt: skip
            lines.append(json.dumps(out, ensure_ascii=False).encode())
        bucket, prefix = split_gs(record["dest"], "output_config.gcs_destination.output_uri_prefix")
        directory = f"{prefix.rstrip('/')}/prediction-model-{stamp}"
        blob = self.storage.bucket(bucket).blob(f"{directory}/predictions.jsonl")
        blob.upload_from_string(b"\n".join(lines) + b"\n", content_type="application/jsonl")
        with self._lock:
            record["output_dir"] = f"gs://{bucket}/{directory}"
            self._save(record)

    def _export_bq(self, record: dict[str, Any], items: list[Mapping[str, Any]]) -> None:
        """Every input row, its columns carried, with ``response`` and ``status``, into the output table."""
        stamp = datetime.fromtimestamp(self.app.clock.now(), UTC).strftime("%Y_%m_%dT%H_%M_%S_%fZ")
        project = split_bq(record["dest"], "output_config.bigquery_destination.output_uri", table=False)[0]
        rows = output_rows(self._rows(record), items)
        dataset, table = write_predictions(self.bigquery(project), record["dest"], record["schema"], rows,
                                           stamp=lambda: stamp)  # fmt: skip
        with self._lock:
            record["output_dir"], record["output_table"] = dataset, table
            self._save(record)

    def _list(self, where: tuple[str, str], key: str, query: Mapping[str, str]) -> dict[str, Any]:
        owner = self._project(key)
        size = int_param(query, "pageSize") or 50
        size = max(1, min(size, 1000))
        wanted: tuple[str, str] | None = None
        text = query.get("filter") or ""
        if text:
            fm = _FILTER.match(text)
            if fm is None:
                raise invalid("filter", f'unsupported filter {text!r}: use state="…" or display_name="…"')
            wanted = (fm.group(1), fm.group(2))
        with self._lock:
            records = sorted(
                (r for r in self._jobs.values()
                 if (r["project"], r["location"]) == where and r["owner"] == owner),
                key=lambda r: r["id"],
            )  # fmt: skip
        after = query.get("pageToken") or ""
        jobs: list[dict[str, Any]] = []
        token = None
        for record in records:
            if after and record["id"] <= after:
                continue
            job = self._render(record)
            if wanted and str(job["state" if wanted[0] == "state" else "displayName"]) != wanted[1]:
                continue
            if len(jobs) == size:
                token = jobs[-1]["name"].rsplit("/", 1)[-1]
                break
            jobs.append(job)
        out: dict[str, Any] = {"batchPredictionJobs": jobs}
        if token:
            out["nextPageToken"] = token
        return out

    # --- changes ------------------------------------------------------------------------------
    def _cancel(self, where: tuple[str, str], key: str, ident: str) -> dict[str, Any]:
        record = self._record(where, key, ident)
        state = str(self._render(record)["state"]).removeprefix("JOB_STATE_")
        if state in _DONE:
            raise ApiError(400, f"The BatchPredictionJob {ident} is already in a final state ({state}).",
                           status="FAILED_PRECONDITION")  # fmt: skip
        self.app.batches.cancel(record["internal"], record["owner"])
        return {}

    def _delete(self, where: tuple[str, str], key: str, ident: str) -> dict[str, Any]:
        record = self._record(where, key, ident)
        if record["internal"] is not None:
            self.app.batches.delete(record["internal"], record["owner"])
        with self._lock:
            self._jobs.pop(ident, None)
            for suffix in ("json", "requests.jsonl", "input.jsonl", "rows.jsonl"):
                (self.root / f"{ident}.{suffix}").unlink(missing_ok=True)
        return {"name": self._name(record), "done": True}
