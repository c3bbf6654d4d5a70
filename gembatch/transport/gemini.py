"""The Gemini Developer API through google-genai: every raw REST detail gembatch relies on."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import quote, urlsplit

from gembatch.errors import BackendError
from gembatch.transport.base import Failure, JobState, JobStatus, Timings

if TYPE_CHECKING:
    from google import genai

__all__ = [
    "API_VERSION",
    "DEFAULT_BASE_URL",
    "JSONL_MIME",
    "GeminiTransport",
    "classify",
    "get_batch_raw",
    "iter_batches_raw",
    "parse_job",
    "public_url",
]

API_VERSION = "v1beta"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/"
#: The MIME type that works for batch input files (``"jsonl"`` from the docs fails intermittently).
JSONL_MIME = "application/jsonl"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _meta(op: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = op.get("metadata")
    return meta if isinstance(meta, Mapping) else op


def _output(op: Mapping[str, Any]) -> Mapping[str, Any]:
    out = _meta(op).get("output") or op.get("response") or {}
    return out if isinstance(out, Mapping) else {}


def parse_job(op: Mapping[str, Any]) -> JobStatus:
    """A :class:`JobStatus` from the raw batch Operation JSON (which keeps ``batchStats``)."""
    meta = _meta(op)
    stats = meta.get("batchStats") or {}
    out = _output(op)
    inline = out.get("inlinedResponses")
    if isinstance(inline, Mapping):
        inline = inline.get("inlinedResponses") or []
    error = op.get("error")
    return JobStatus(
        name=str(op.get("name") or meta.get("name") or ""),
        display_name=meta.get("displayName"),
        state=JobState.parse(meta.get("state")),
        model=meta.get("model"),
        stats={k: int(v) for k, v in stats.items() if str(v).lstrip("-").isdigit()},
        error=error.get("message") if isinstance(error, Mapping) else None,
        output_file=out.get("responsesFile") or out.get("responses_file"),
        inline_responses=None if inline is None else tuple(inline),
        create_time=meta.get("createTime"),
        update_time=meta.get("updateTime"),
        end_time=meta.get("endTime"),
    )


_DELAY = re.compile(r"retry in ([0-9.]+)\s*s", re.IGNORECASE)
_TRANSPORT_MODULES = ("httpx", "httpx2", "httpcore", "httpcore2", "h11")


def _retry_delay(exc: BaseException) -> float | None:
    """Seconds the service asked us to wait (``RetryInfo.retryDelay``, or "retry in Ns"), if any."""
    details = getattr(exc, "details", None)
    body = details if isinstance(details, Mapping) else {}
    err = body.get("error", body)
    for item in (err.get("details") if isinstance(err, Mapping) else None) or []:
        if isinstance(item, Mapping) and "retryDelay" in item:
            raw = str(item["retryDelay"]).strip().removesuffix("s")
            try:
                return float(raw)
            except ValueError:
                pass
    match = _DELAY.search(str(getattr(exc, "message", "") or ""))
    return float(match.group(1)) if match else None


def classify(exc: BaseException) -> Failure:
    """What a google-genai (or HTTP transport) exception means for gembatch.

    A 4xx answer other than 408 is a refusal: the service did not act. A 5xx, a timeout or a
    dropped connection may come after the service acted (a create may have made the job), so the
    caller must reconcile, never blindly retry. 5xx, 408, 429 and transport failures are transient.
    """
    from google.genai import errors as genai_errors  # loaded with the client, not with gembatch

    if isinstance(exc, genai_errors.APIError):
        code = int(exc.code) if exc.code is not None else None
        client = isinstance(exc, genai_errors.ClientError)
        return Failure(
            transient=isinstance(exc, genai_errors.ServerError) or (client and code in (408, 429)),
            refused=client and code != 408,
            answered=True,
            code=code,
            status=str(exc.status or ""),
            message=str(exc.message or ""),
            retry_after_s=_retry_delay(exc),
        )
    transient = isinstance(exc, OSError | TimeoutError | json.JSONDecodeError) or (
        type(exc).__module__.split(".")[0] in _TRANSPORT_MODULES
    )
    return Failure(transient=transient, status=type(exc).__name__, message=str(exc))


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: what may be written down."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    return f"{parts.scheme}://{netloc}{parts.path}".rstrip("/")


class GeminiTransport:
    """:class:`~gembatch.transport.base.Transport` over a ``google.genai.Client`` (Developer API).

    Reads batches as raw JSON through the SDK's own authenticated transport, because the SDK's
    ``BatchJob`` drops ``batchStats`` and the operation error.

    Examples
    --------
    >>> t = GeminiTransport(gb.connect())          # doctest: +SKIP
    >>> [job.state for job in t.list_jobs()]       # doctest: +SKIP
    """

    def __init__(
        self,
        client: genai.Client,
        *,
        name: str = "gemini",
        timings: Timings | None = None,
        emulated: bool = False,
    ):
        self.client = client
        self.name = name
        self.timings = timings or Timings()
        self.emulated = emulated
        self._configs: dict[str, Any] = {}
        self._configs_lock = threading.Lock()

    # -- where ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        options = getattr(getattr(self.client, "_api_client", None), "_http_options", None)
        return str(getattr(options, "base_url", None) or DEFAULT_BASE_URL)

    @property
    def api_version(self) -> str:
        options = getattr(getattr(self.client, "_api_client", None), "_http_options", None)
        return str(getattr(options, "api_version", None) or API_VERSION)

    @property
    def loopback(self) -> bool:
        return (urlsplit(self.base_url).hostname or "") in _LOOPBACK

    def describe(self) -> str:
        url = self.base_url.rstrip("/")
        if self.emulated:
            return f"Gemini emulator at {url} ({self.api_version}); results are emulated"
        return f"Gemini API at {url} ({self.api_version})"

    def __repr__(self) -> str:
        return f"<GeminiTransport {self.describe()}>"

    def connection(self) -> dict[str, Any]:
        """The facts that reconnect to this backend (a run records them); never a key or a token."""
        facts: dict[str, Any] = {"backend": self.name, "api_version": self.api_version}
        if self.emulated or self.base_url.rstrip("/") != DEFAULT_BASE_URL.rstrip("/"):
            facts["base_url"] = public_url(self.base_url)
        return facts

    # -- raw REST ---------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One call through the SDK's transport (auth, base URL, API version), returning parsed JSON."""
        resp = self.client._api_client.request(method, path, dict(body or {}))
        data = json.loads(resp.body or "{}")
        return data if isinstance(data, dict) else {}

    # -- files ------------------------------------------------------------------------------
    def upload(self, data: BinaryIO, display_name: str) -> str:
        uploaded = self.client.files.upload(
            file=cast(io.IOBase, data), config={"mime_type": JSONL_MIME, "display_name": display_name}
        )
        return str(uploaded.name)

    def file_exists(self, name: str) -> bool:
        from google.genai import errors as genai_errors

        try:
            self.client.files.get(name=name)
        except genai_errors.APIError:
            return False
        return True

    def download(self, file_name: str) -> bytes:
        return bytes(self.client.files.download(file=file_name))  # the NAME: a File object raises

    def delete_file(self, name: str) -> None:
        self.client.files.delete(name=name)

    def list_files(self, page_size: int = 100) -> Iterator[tuple[str, str]]:
        """Every file the service holds for this key, as ``(name, display name)``, following all pages."""
        for item in self.client.files.list(config={"page_size": int(page_size)}):
            yield str(item.name), str(item.display_name or "")

    # -- batches ----------------------------------------------------------------------------
    def create(
        self,
        model: str,
        display_name: str,
        *,
        file_name: str | None = None,
        requests: Sequence[Mapping[str, Any]] | None = None,
    ) -> JobStatus:
        """``batchGenerateContent`` in REST form, so inline request dicts reach the service unchanged."""
        if file_name is not None:
            source: dict[str, Any] = {"fileName": file_name}
        else:
            items = [{"request": r["request"], "metadata": {"key": r["key"]}} for r in requests or []]
            source = {"requests": {"requests": items}}
        body = {"batch": {"displayName": display_name, "inputConfig": source}}
        model_path = model if model.startswith("models/") else f"models/{model}"
        return parse_job(self._request("post", f"{model_path}:batchGenerateContent", body))

    def get_raw(self, name: str) -> dict[str, Any]:
        """The batch Operation exactly as the service sent it (``metadata.batchStats`` included)."""
        if not name.startswith("batches/"):
            raise BackendError(f"a batch name looks like 'batches/<id>', not {name!r}")
        return self._request("get", name)

    # the list method's path and the field of each page that holds the jobs (a backend may differ)
    list_path, list_field = "batches", "operations"

    def list_raw(self, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every batch job as sent, following all pages of the list method."""
        token: str | None = None
        while True:
            path = f"{self.list_path}?pageSize={int(page_size)}"
            if token:
                path += f"&pageToken={quote(token, safe='')}"
            page = self._request("get", path)
            yield from page.get(self.list_field) or []
            token = page.get("nextPageToken")
            if not token:
                return

    def get(self, name: str) -> JobStatus:
        return parse_job(self.get_raw(name))

    def list_jobs(self, page_size: int = 100) -> Iterator[JobStatus]:
        return (parse_job(op) for op in self.list_raw(page_size))

    def cancel(self, name: str) -> None:
        self.client.batches.cancel(name=name)

    def delete(self, name: str) -> None:
        self.client.batches.delete(name=name)

    # -- real time --------------------------------------------------------------------------
    def _config(self, request: Mapping[str, Any]) -> Any:
        """The SDK's ``GenerateContentConfig`` for a request, built once per distinct settings."""
        from google.genai import types

        settings = {k: v for k, v in request.items() if k != "contents"}
        key = json.dumps(settings, sort_keys=True, default=str)
        with self._configs_lock:
            config = self._configs.get(key)
        if config is None:
            gen = types.GenerationConfig.model_validate(settings.get("generationConfig", {}))
            system = settings.get("systemInstruction")
            config = types.GenerateContentConfig(
                system_instruction=types.Content.model_validate(system) if system else None,
                **gen.model_dump(exclude_none=True, exclude={"model_selection_config"}),
            )
            with self._configs_lock:
                self._configs[key] = config
        return config

    async def generate(self, model: str, request: Mapping[str, Any]) -> dict[str, Any]:
        response = await self.client.aio.models.generate_content(
            model=model, contents=list(request["contents"]), config=self._config(request)
        )
        data: dict[str, Any] = response.model_dump(mode="json", by_alias=True, exclude_none=True)
        return data

    def count_tokens(self, model: str, text: str) -> int:
        return int(self.client.models.count_tokens(model=model, contents=text).total_tokens or 0)

    def classify(self, exc: BaseException) -> Failure:
        return classify(exc)


def get_batch_raw(client: genai.Client, name: str) -> dict[str, Any]:
    """The raw batch Operation JSON of ``batches/<id>`` through ``client`` (the SDK drops ``batchStats``)."""
    return GeminiTransport(client).get_raw(name)


def iter_batches_raw(client: genai.Client, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every batch as raw Operation JSON through ``client``, following all pages of ``batches.list``."""
    return GeminiTransport(client).list_raw(page_size)
