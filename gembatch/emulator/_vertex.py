"""The Vertex AI ``batchPredictionJobs`` surface, as the google-genai SDK drives it with ``vertexai=True``.

A Vertex job is a projection of one of the emulator's own batch jobs, so it shares their clock,
faults (by the same operation names: ``batches.create``, ``batches.get``, …), quotas and
generated answers. At create the input JSONL is read from the Cloud Storage stand-in and handed
to an emulator batch job as inline requests; once the job succeeds its predictions are written
back under the destination prefix as ``prediction-model-<time>/predictions.jsonl``, one line per
request with the request echoed, as Vertex does.
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
from typing import Any

from gembatch.emulator._errors import ApiError, invalid
from gembatch.emulator._persist import read_json, write_json
from gembatch.emulator._reply import Call, Reply, int_param, json_body

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


def _split_gs(uri: str, field: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("gs://") or "/" not in uri[5:]:
        raise invalid(field, f"{uri!r} is not a gs://bucket/object URI")
    bucket, _, path = uri[5:].partition("/")
    return bucket, path


class VertexApi:
    """Handlers of the Vertex surface, bound to the emulator's batch service and its storage stand-in."""

    def __init__(self, app: Any, storage: Callable[[], Any]):
        self.app = app
        self._storage_factory = storage
        self._storage: Any = None
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
        source = body.get("inputConfig") or {}
        if source.get("bigquerySource"):
            raise ApiError(
                400, "BigQuery input is not emulated: give inputConfig.gcsSource", status="INVALID_ARGUMENT"
            )
        uris = (source.get("gcsSource") or {}).get("uris") or []
        if source.get("instancesFormat") not in (None, "jsonl") or not uris:
            raise invalid("input_config", "give instancesFormat 'jsonl' and gcsSource.uris")
        dest = ((body.get("outputConfig") or {}).get("gcsDestination") or {}).get("outputUriPrefix")
        if not dest:
            raise invalid("output_config.gcs_destination.output_uri_prefix", "is required")
        _split_gs(dest, "output_config.gcs_destination.output_uri_prefix")
        requests = self._read_input(uris)
        owner = self._project(key)
        ident = str(secrets.randbelow(9 * 10**18) + 10**18)
        display = body.get("displayName") or f"vertex-job-{ident}"
        # Inline to the batch service: its output then lives with the job, not as an expiring file.
        items = [{"request": {k: v for k, v in r.items() if k != "labels"}, "metadata": {"key": str(i)}}
                 for i, r in enumerate(requests)]  # fmt: skip
        batch = {"batch": {"displayName": display, "inputConfig": {"requests": {"requests": items}}}}
        op = self.app.batches.create(served, batch, "generate", owner)
        (self.root / f"{ident}.requests.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in requests), "utf-8"
        )
        record = {
            "id": ident, "project": where[0], "location": where[1], "owner": owner,
            "internal": str(op["name"]), "model": model_id, "display_name": display,
            "input_uris": list(uris), "dest": str(dest), "output_dir": None,
        }  # fmt: skip
        with self._lock:
            self._jobs[ident] = record
            self._save(record)
        self._start_exporter()
        return self._render(record)

    def _served(self, model: Any) -> tuple[Any, str]:
        m = _MODEL.match(str(model or ""))
        if m is None:
            raise invalid("model", f"{model!r} is not a publisher model name")
        served = self.app.api.lineup.get(m.group("id"), "batchGenerateContent", "v1beta")
        return served, str(served.id)

    def _read_input(self, uris: list[str]) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = []
        for uri in uris:
            bucket, path = _split_gs(uri, "input_config.gcs_source.uris")
            blob = self.storage.bucket(bucket).blob(path)
            if not blob.exists():
                raise ApiError(400, f"Failed to read the input file {uri}: it does not exist.",
                               status="FAILED_PRECONDITION")  # fmt: skip
            for n, raw in enumerate(blob.download_as_bytes().splitlines(), 1):
                if not raw.strip():
                    continue
                try:
                    line = json.loads(raw)
                except ValueError:
                    raise invalid("input", f"{uri} line {n} is not JSON") from None
                request = line.get("request") if isinstance(line, dict) else None
                if not isinstance(request, dict):
                    raise invalid("input", f'{uri} line {n} has no "request" object')
                requests.append(request)
        if not requests:
            raise invalid("input", "the input files hold no requests")
        return requests

    # --- reads --------------------------------------------------------------------------------
    def _internal(self, record: Mapping[str, Any]) -> dict[str, Any]:
        op: dict[str, Any] = self.app.batches.get(record["internal"], record["owner"])
        return op

    def _render(self, record: dict[str, Any]) -> dict[str, Any]:
        op = self._internal(record)
        meta = op.get("metadata") or {}
        state = str(meta.get("state") or "").removeprefix("BATCH_STATE_")
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
            "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {"uris": record["input_uris"]}},
            "outputConfig": {"predictionsFormat": "jsonl",
                             "gcsDestination": {"outputUriPrefix": record["dest"]}},
            "state": f"JOB_STATE_{state or 'UNSPECIFIED'}",
            "createTime": meta.get("createTime"),
            "updateTime": meta.get("updateTime"),
        }  # fmt: skip
        if state not in ("PENDING", ""):
            job["startTime"] = meta.get("createTime")
        if meta.get("endTime"):
            job["endTime"] = meta["endTime"]
        counts = {"successfulCount": stats.get("successfulRequestCount"),
                  "failedCount": stats.get("failedRequestCount"),
                  "incompleteCount": stats.get("pendingRequestCount")}  # fmt: skip
        job["completionStats"] = {k: str(v) for k, v in counts.items() if v not in (None, "0", 0)}
        if record["output_dir"]:
            job["outputInfo"] = {"gcsOutputDirectory": record["output_dir"]}
        if state in ("FAILED", "CANCELLED", "EXPIRED") and op.get("error"):
            job["error"] = {"code": op["error"].get("code"), "message": op["error"].get("message")}
        return job

    def _export(self, record: dict[str, Any], op: Mapping[str, Any]) -> None:
        """Write the job's predictions under its destination prefix (once; the job is then final)."""
        output = (op.get("metadata") or {}).get("output") or {}
        items = (output.get("inlinedResponses") or {}).get("inlinedResponses") or []
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
        bucket, prefix = _split_gs(record["dest"], "output_config.gcs_destination.output_uri_prefix")
        directory = f"{prefix.rstrip('/')}/prediction-model-{stamp}"
        blob = self.storage.bucket(bucket).blob(f"{directory}/predictions.jsonl")
        blob.upload_from_string(b"\n".join(lines) + b"\n", content_type="application/jsonl")
        with self._lock:
            record["output_dir"] = f"gs://{bucket}/{directory}"
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
        state = str((self._internal(record).get("metadata") or {}).get("state", "")).removeprefix(
            "BATCH_STATE_"
        )
        if state in _DONE:
            raise ApiError(400, f"The BatchPredictionJob {ident} is already in a final state ({state}).",
                           status="FAILED_PRECONDITION")  # fmt: skip
        self.app.batches.cancel(record["internal"], record["owner"])
        return {}

    def _delete(self, where: tuple[str, str], key: str, ident: str) -> dict[str, Any]:
        record = self._record(where, key, ident)
        self.app.batches.delete(record["internal"], record["owner"])
        with self._lock:
            self._jobs.pop(ident, None)
            for suffix in ("json", "requests.jsonl", "input.jsonl"):
                (self.root / f"{ident}.{suffix}").unlink(missing_ok=True)
        return {"name": self._name(record), "done": True}
