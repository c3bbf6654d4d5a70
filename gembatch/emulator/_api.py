"""The Gemini REST surface: the request pipeline (key, faults) and the files and batches handlers."""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from gembatch.emulator._errors import ApiError, invalid, quota_error
from gembatch.emulator._lineup import Lineup
from gembatch.emulator._models_api import ModelsApi
from gembatch.emulator._proto import read_message
from gembatch.emulator._reply import Call, Reply, int_param, json_body
from gembatch.errors import CatalogError

__all__ = ["Call", "GeminiApi", "Reply"]

logger = logging.getLogger("gembatch.emulator")

_INVALID_KEY = [
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
]
# IANA top-level media types; anything else (or no "type/subtype" at all) the Files API refuses.
_MIME = re.compile(
    r"^(application|audio|font|image|message|model|multipart|text|video)/[\w.+-]+(\s*;.*)?$", re.I
)


class GeminiApi:
    """Handlers of the Gemini surface, bound to the emulator's services."""

    def __init__(self, app: Any):
        self.app = app
        self.lineup = Lineup(app.config.models)
        self._rng = random.Random(app.config.seed)
        models = ModelsApi(app, self.lineup)
        self.handlers: dict[str, Callable[[Call], Reply]] = {
            "files.upload": self.upload_start,
            "files.upload_chunk": self.upload_chunk,
            "files.get": lambda c: Reply.json(
                self.app.files.get(c.params["id"], c.project).resource(self.app.base_url)
            ),
            "files.list": self.files_list,
            "files.delete": self.files_delete,
            "files.download": self.files_download,
            "batches.get": lambda c: Reply.json(self.app.batches.get(c.params["id"], c.project)),
            "batches.list": lambda c: Reply.json(
                self.app.batches.list(int_param(c.query, "pageSize"), c.query.get("pageToken"), c.project)
            ),
            "batches.cancel": lambda c: Reply.json(self.app.batches.cancel(c.params["id"], c.project)),
            "batches.delete": lambda c: Reply.json(self.app.batches.delete(c.params["id"], c.project)),
            "batches.create": lambda c: self.batch_create(c, "generate"),
            "batches.create_embeddings": lambda c: self.batch_create(c, "embed"),
            **models.handlers(),
        }

    # --- the request pipeline ----------------------------------------------------------------
    def handle(self, call: Call) -> Reply:
        op = call.route.op
        upload = op.startswith("files.upload")
        extra = {"X-Goog-Upload-Status": "final"} if upload else {}
        try:
            if op != "files.upload_chunk":
                key = self._authorise(call.query, call.headers)
                call = replace(call, project=self.app.config.project_of(key))
            profile = self.app.config.profile
            if profile.http_latency_ms > 0:
                time.sleep(profile.http_latency_ms / 1000.0)
            fault = self.app.faults.take(op)
            if fault is not None and fault.status is not None and not fault.drop_response:
                raise ApiError(int(fault.status), fault.message)
            if fault is None and not upload:
                roll = self._rng.random()
                if roll < profile.http_500_rate:
                    raise ApiError(500)
                if roll < profile.http_500_rate + profile.http_503_rate:
                    raise ApiError(503)
                if op == "batches.create" and self._rng.random() < profile.create_429_rate:
                    raise self._spurious_quota(call.params["model"], call.version)
            reply = self.handlers[op](call)
            if fault is not None and fault.drop_response:
                # The work is done (e.g. the job exists) but the client never learns it.
                how = str(fault.drop_response).lower()
                if how == "disconnect":
                    return Reply(disconnect=True)
                raise ApiError(int(fault.status or (503 if how == "503" else 500)), fault.message)
            return reply
        except ApiError as exc:
            return Reply(exc.code, exc.body(), {**exc.headers, **extra})

    def _spurious_quota(self, model: str, version: str) -> ApiError:
        served = self.lineup.get(model, "batchGenerateContent", version)
        try:
            limit = served.info.enqueued_limit(self.app.config.tier) if served.info else 0
        except CatalogError:
            limit = 0
        tier = self.app.config.tier.replace("tier", "Tier")
        return quota_error(
            "batch_enqueued_tokens", f"BatchEnqueuedTokensPerModelPerProject-{tier}", limit, served.id, 60.0
        )

    def _authorise(self, query: Mapping[str, str], headers: Mapping[str, str]) -> str:
        key = headers.get("x-goog-api-key") or query.get("key")
        if not key:
            raise ApiError(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        keys = self.app.config.api_keys
        if keys is not None and key not in keys:
            raise ApiError(400, "API key not valid. Please pass a valid API key.", details=_INVALID_KEY)
        return str(key)

    # --- files -----------------------------------------------------------------------------
    def upload_start(self, call: Call) -> Reply:
        headers = call.headers
        protocol = (headers.get("X-Goog-Upload-Protocol") or "").lower()
        if protocol != "resumable":
            raise invalid("X-Goog-Upload-Protocol", "only the resumable upload protocol is supported")
        meta = read_message("CreateFileRequest", json_body(call.body)).get("file") or {}
        size_header = headers.get("X-Goog-Upload-Header-Content-Length")
        size_value = size_header if size_header is not None else meta.get("sizeBytes")
        try:
            size = int(size_value) if size_value is not None else -1
        except (TypeError, ValueError):
            raise invalid("file.size_bytes", f"must be an integer, not {size_value!r}") from None
        if size < 0:
            raise invalid("X-Goog-Upload-Header-Content-Length", "is required (the file size in bytes)")
        mime = meta.get("mimeType") or headers.get("X-Goog-Upload-Header-Content-Type")
        if not mime:
            raise invalid("file.mime_type", "is required")
        if not _MIME.match(str(mime)):
            raise ApiError(400, f"Unsupported MIME type: {mime}")
        session = self.app.files.start_upload(
            size=size,
            mime_type=str(mime),
            display_name=str(meta.get("displayName") or ""),
            name=meta.get("name"),
            now=self.app.clock.now(),
            project=call.project,
        )
        url = f"{self.app.base_url}/upload/v1beta/files?upload_id={session.id}&upload_protocol=resumable"
        return Reply(
            200,
            b"",
            {
                "X-Goog-Upload-URL": url,
                "X-Goog-Upload-Status": "active",
                "X-Goog-Upload-Chunk-Granularity": str(8 * 1024 * 1024),
            },
        )

    def upload_chunk(self, call: Call) -> Reply:
        query, headers = call.query, call.headers
        command = (headers.get("X-Goog-Upload-Command") or "").lower()
        commands = {c.strip() for c in command.split(",")}
        if "cancel" in commands:
            return Reply(200, b"", {"X-Goog-Upload-Status": "cancelled"})
        if "query" in commands:  # a client resuming an interrupted upload asks where to restart
            received = self.app.files.received(query["upload_id"])
            return Reply(
                200, b"", {"X-Goog-Upload-Status": "active", "X-Goog-Upload-Size-Received": str(received)}
            )
        if not commands & {"upload", "finalize"}:
            raise invalid(
                "X-Goog-Upload-Command", f"expected 'upload' or 'upload, finalize', not {command!r}"
            )
        offset_header = headers.get("X-Goog-Upload-Offset")
        offset = int(offset_header) if offset_header not in (None, "") else None
        rec = self.app.files.upload_chunk(
            query["upload_id"], offset, call.body, "finalize" in commands, self.app.clock.now()
        )
        if rec is None:
            return Reply(200, b"", {"X-Goog-Upload-Status": "active"})
        return Reply.json(
            {"file": rec.resource(self.app.base_url)}, headers={"X-Goog-Upload-Status": "final"}
        )

    def files_list(self, call: Call) -> Reply:
        size = int_param(call.query, "pageSize") or 10
        page, token = self.app.files.page(max(1, min(size, 100)), call.query.get("pageToken"), call.project)
        out: dict[str, Any] = {"files": [f.resource(self.app.base_url) for f in page]}
        if token:
            out["nextPageToken"] = token
        return Reply.json(out)

    def files_delete(self, call: Call) -> Reply:
        self.app.files.delete(call.params["id"], call.project)
        return Reply.json({})

    def files_download(self, call: Call) -> Reply:
        rec = self.app.files.get(call.params["id"], call.project)
        return Reply(
            200, self.app.files.data_path(rec.id), content_type=rec.mime_type or "application/octet-stream"
        )

    # --- batches -----------------------------------------------------------------------------
    def batch_create(self, call: Call, kind: str) -> Reply:
        method = "batchGenerateContent" if kind == "generate" else "asyncBatchEmbedContent"
        served = self.lineup.get(call.params["model"], method, call.version)
        limit = served.info.inline_limit_bytes if served.info else 20_000_000
        if len(call.body) > limit:
            raise ApiError(400, f"Request payload size exceeds the limit: {limit} bytes.")
        message = "BatchGenerateContentRequest" if kind == "generate" else "AsyncBatchEmbedContentRequest"
        body = read_message(message, json_body(call.body))
        return Reply.json(self.app.batches.create(served, body, kind, call.project))
