"""The Gemini REST surface: routing of paths to the files, batches and models handlers."""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gembatch.emulator._casing import normalize
from gembatch.emulator._errors import ApiError, invalid, quota_error
from gembatch.emulator._faults import OP_ALIASES
from gembatch.emulator._limits import model_info_or_404
from gembatch.emulator._model import generate
from gembatch.emulator._tokenizer import request_prompt_tokens
from gembatch.errors import CatalogError

__all__ = ["Reply", "route"]

logger = logging.getLogger("gembatch.emulator")

_API = re.compile(r"^/(?:(?P<kind>upload|download)/)?(?P<ver>v1(?:alpha|beta)?\d*)/(?P<rest>.+?)/?$", re.I)
_MODEL_METHOD = re.compile(r"^models/(?P<model>[^/:]+):(?P<method>\w+)$")
_ITEM = re.compile(r"^(?P<coll>files|batches|models)/(?P<id>[^/:]+)(?::(?P<verb>\w+))?$")
_INVALID_KEY = [
    {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
]


@dataclass
class Reply:
    """One HTTP reply; ``body`` may be a file path, streamed by the server."""

    status: int = 200
    body: bytes | Path = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=UTF-8"
    disconnect: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data, ensure_ascii=False).encode(), dict(headers or {}))


def _json_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"Invalid JSON payload received. {exc.msg} at position {exc.pos}.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Invalid JSON payload received. Expected a JSON object.")
    return data


def _int_param(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid(name, f"must be an integer, not {value!r}") from None


def route(method: str, path: str, query: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """(operation name, path parameters) for a Gemini API request, or None."""
    m = _API.match(path)
    if m is None:
        return None
    kind, rest = (m.group("kind") or "").lower(), m.group("rest")
    if kind == "upload":
        if rest == "files" and method == "POST":
            return ("files.upload_chunk" if "upload_id" in query else "files.upload"), {}
        return None
    if rest in ("files", "batches", "models") and method == "GET":
        return f"{rest}.list", {}
    mm = _MODEL_METHOD.match(rest)
    if mm and method == "POST":
        op = OP_ALIASES.get(f"models.{mm.group('method')}", f"models.{mm.group('method')}")
        return op, {"model": mm.group("model")}
    item = _ITEM.match(rest)
    if item is None:
        return None
    coll, ident, verb = item.group("coll"), item.group("id"), item.group("verb")
    params = {"id": ident}
    if verb is None:
        if method == "GET":
            return f"{coll}.get", params
        if method == "DELETE" and coll in ("files", "batches"):
            return f"{coll}.delete", params
        return None
    if coll == "files" and verb == "download" and method == "GET":
        return "files.download", params
    if coll == "batches" and verb in ("cancel", "delete") and method == "POST":
        return f"batches.{verb}", params
    return None


class GeminiApi:
    """Handlers of the Gemini surface, bound to the emulator's services."""

    def __init__(self, app: Any):
        self.app = app
        self._rng = random.Random(app.config.seed)
        self.handlers: dict[str, Callable[..., Reply]] = {
            "files.upload": self.upload_start,
            "files.upload_chunk": self.upload_chunk,
            "files.get": lambda p, q, h, b: Reply.json(
                self.app.files.get(p["id"]).resource(self.app.base_url)
            ),
            "files.list": self.files_list,
            "files.delete": self.files_delete,
            "files.download": self.files_download,
            "batches.get": lambda p, q, h, b: Reply.json(self.app.batches.get(p["id"])),
            "batches.list": lambda p, q, h, b: Reply.json(
                self.app.batches.list(_int_param(q, "pageSize"), q.get("pageToken"))
            ),
            "batches.cancel": lambda p, q, h, b: Reply.json(self.app.batches.cancel(p["id"])),
            "batches.delete": lambda p, q, h, b: Reply.json(self.app.batches.delete(p["id"])),
            "batches.create": self.batch_create,
            "models.generate_content": self.generate_content,
            "models.generate_content_stream": self.stream_generate_content,
            "models.count_tokens": self.count_tokens,
            "models.get": lambda p, q, h, b: Reply.json(self._model_resource(p["id"])),
            "models.list": lambda p, q, h, b: Reply.json(
                {"models": [self._model_resource(m) for m in self._listed_models()]}
            ),
        }

    # --- the request pipeline ----------------------------------------------------------------
    def handle(
        self,
        op: str,
        params: dict[str, str],
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        upload = op.startswith("files.upload")
        extra = {"X-Goog-Upload-Status": "final"} if upload else {}
        try:
            if op != "files.upload_chunk":
                self._authorise(query, headers)
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
                    raise self._spurious_quota(params["model"])
            reply = self.handlers[op](params, query, headers, body)
            if fault is not None and fault.drop_response:
                # The work is done (e.g. the job exists) but the client never learns it.
                how = str(fault.drop_response).lower()
                if how == "disconnect":
                    return Reply(disconnect=True)
                raise ApiError(int(fault.status or (503 if how == "503" else 500)), fault.message)
            return reply
        except ApiError as exc:
            return Reply(exc.code, exc.body(), {**exc.headers, **extra})

    def _spurious_quota(self, model: str) -> ApiError:
        info = model_info_or_404(self.app.config.catalog, model, "batchGenerateContent")
        try:
            limit = info.enqueued_limit(self.app.config.tier)
        except CatalogError:
            limit = 0
        tier = self.app.config.tier.replace("tier", "Tier")
        return quota_error(
            "batch_enqueued_tokens", f"BatchEnqueuedTokensPerModelPerProject-{tier}", limit, info.id, 60.0
        )

    def _authorise(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
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

    # --- files -----------------------------------------------------------------------------
    def upload_start(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        protocol = (headers.get("X-Goog-Upload-Protocol") or "").lower()
        if protocol != "resumable":
            raise invalid("X-Goog-Upload-Protocol", "only the resumable upload protocol is supported")
        meta = normalize(_json_body(body)).get("file") or {}
        if not isinstance(meta, dict):
            raise invalid("file", "must be an object")
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
        session = self.app.files.start_upload(
            size=size,
            mime_type=str(mime),
            display_name=str(meta.get("displayName") or ""),
            name=meta.get("name"),
            now=self.app.clock.now(),
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

    def upload_chunk(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
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
            query["upload_id"], offset, body, "finalize" in commands, self.app.clock.now()
        )
        if rec is None:
            return Reply(200, b"", {"X-Goog-Upload-Status": "active"})
        return Reply.json(
            {"file": rec.resource(self.app.base_url)}, headers={"X-Goog-Upload-Status": "final"}
        )

    def files_list(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        size = _int_param(query, "pageSize") or 10
        size = max(1, min(size, 100))
        start = _int_param(query, "pageToken") or 0
        files = self.app.files.records()
        page = files[start : start + size]
        out: dict[str, Any] = {"files": [f.resource(self.app.base_url) for f in page]}
        if start + size < len(files):
            out["nextPageToken"] = str(start + size)
        return Reply.json(out)

    def files_delete(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        self.app.files.delete(params["id"])
        return Reply.json({})

    def files_download(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        rec = self.app.files.get(params["id"])
        return Reply(
            200, self.app.files.data_path(rec.id), content_type=rec.mime_type or "application/octet-stream"
        )

    # --- batches and models ----------------------------------------------------------------------
    def batch_create(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        info = model_info_or_404(self.app.config.catalog, params["model"], "batchGenerateContent")
        if len(body) > info.inline_limit_bytes:
            raise ApiError(400, f"Request payload size exceeds the limit: {info.inline_limit_bytes} bytes.")
        return Reply.json(self.app.batches.create(info.id, _json_body(body)))

    def _checked_request(self, model: str, body: bytes, method: str) -> tuple[str, dict[str, Any], int]:
        info = model_info_or_404(self.app.config.catalog, model, method)
        request = normalize(_json_body(body))
        contents = request.get("contents")
        if not isinstance(contents, list) or not contents:
            raise invalid("contents", "must be a non-empty list of contents")
        config = request.get("generationConfig")
        if config is not None:
            if not isinstance(config, dict):
                raise invalid("generation_config", "must be an object")
            max_out = config.get("maxOutputTokens")
            if max_out is not None and (not isinstance(max_out, int) or max_out < 1):
                raise invalid(
                    "generation_config.max_output_tokens", f"must be a positive integer, not {max_out!r}"
                )
            temp = config.get("temperature")
            if temp is not None and (not isinstance(temp, int | float) or not 0 <= temp <= 2):
                raise invalid("generation_config.temperature", f"must be between 0 and 2, not {temp!r}")
            schema = config.get("responseSchema")
            if schema is not None and not isinstance(schema, dict):
                raise invalid("generation_config.response_schema", "must be an object")
        tokens = request_prompt_tokens(request)
        return info.id, request, tokens

    def generate_content(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        model, request, tokens = self._checked_request(params["model"], body, "generateContent")
        self.app.limiter.check(model, tokens)
        return Reply.json(generate(request, model, tokens))

    def stream_generate_content(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        model, request, tokens = self._checked_request(params["model"], body, "streamGenerateContent")
        self.app.limiter.check(model, tokens)
        response = generate(request, model, tokens)
        if query.get("alt") == "sse":
            data = b"data: " + json.dumps(response).encode() + b"\r\n\r\n"
            return Reply(200, data, content_type="text/event-stream")
        return Reply.json([response])

    def count_tokens(
        self, params: dict[str, str], query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        info = model_info_or_404(self.app.config.catalog, params["model"], "countTokens")
        request = normalize(_json_body(body))
        inner = request.get("generateContentRequest")
        if isinstance(inner, dict):
            request = inner
        if not isinstance(request.get("contents"), list):
            raise invalid("contents", "must be a list of contents")
        tokens = request_prompt_tokens(request)
        del info
        return Reply.json(
            {"totalTokens": tokens, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens}]}
        )

    def _listed_models(self) -> list[str]:
        """Catalogue models the service still lists (it drops retired ones from models.list)."""
        catalog = self.app.config.catalog
        return [m for m in catalog.ids() if not catalog.get(m).is_retired()]

    def _model_resource(self, model: str) -> dict[str, Any]:
        info = model_info_or_404(self.app.config.catalog, model, "get")
        return {
            "name": f"models/{info.id}",
            "baseModelId": info.id,
            "version": "001",
            "displayName": info.id,
            "inputTokenLimit": info.context_window,
            "outputTokenLimit": info.max_output_tokens,
            "thinking": info.thinking,
            "supportedGenerationMethods": ["generateContent", "countTokens", "batchGenerateContent"],
        }
