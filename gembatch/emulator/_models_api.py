"""The models surface: generate (whole or streamed), count tokens, embed, get and list models."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from gembatch.emulator._checks import Checked, check_body_size, check_embed, check_generate
from gembatch.emulator._embed import embed
from gembatch.emulator._errors import ApiError
from gembatch.emulator._lineup import Lineup, not_found
from gembatch.emulator._model import generate, stream_chunks
from gembatch.emulator._proto import read_message
from gembatch.emulator._reply import Call, Reply, json_body, page_token, read_page_token
from gembatch.emulator._tokenizer import prompt_token_details, request_prompt_tokens

__all__ = ["ModelsApi", "batch_line_answer", "respond"]

DEFAULT_MODELS_PAGE = 50
MAX_MODELS_PAGE = 1000


def respond(checked: Checked) -> dict[str, Any]:
    """The GenerateContentResponse for a checked request."""
    return generate(
        checked.request,
        checked.model.id,
        checked.prompt_tokens,
        thinking=checked.thinking,
        thinking_factor=checked.model.thinking.factor,
        candidates=checked.candidates,
    )


class ModelsApi:
    """Handlers under ``models/``, plus the service's routes the emulator does not model."""

    def __init__(self, app: Any, lineup: Lineup):
        self.app = app
        self.lineup = lineup

    def handlers(self) -> dict[str, Callable[[Call], Reply]]:
        return {
            "models.generate_content": self.generate_content,
            "models.generate_content_stream": self.stream_generate_content,
            "models.count_tokens": self.count_tokens,
            "models.embed_content": self.embed_content,
            "models.batch_embed_contents": self.batch_embed_contents,
            "models.get": self.models_get,
            "models.list": self.models_list,
            "models.unsupported": self.unsupported,
            "unemulated.list": lambda c: _reply({}),
            "unemulated.get": self.unemulated_get,
            "unemulated": self.unemulated,
        }

    def _own_host(self) -> str:
        return urlsplit(self.app.base_url).netloc

    def checked(self, call: Call, method: str) -> Checked:
        served = self.lineup.get(call.params["model"], method, call.version)
        check_body_size(call.body)
        request = read_message("GenerateContentRequest", json_body(call.body))
        return check_generate(
            served,
            request,
            file_exists=lambda file_id: self.app.files.exists(file_id, call.project),
            own_host=self._own_host(),
        )

    def generate_content(self, call: Call) -> Reply:
        checked = self.checked(call, "generateContent")
        self.app.limiter.check(_base_id(checked), checked.prompt_tokens, call.project)
        return _reply(respond(checked))

    def stream_generate_content(self, call: Call) -> Reply:
        checked = self.checked(call, "streamGenerateContent")
        self.app.limiter.check(_base_id(checked), checked.prompt_tokens, call.project)
        chunks = stream_chunks(respond(checked))
        if call.query.get("alt") == "sse":
            events = [b"data: " + json.dumps(c, ensure_ascii=False).encode() + b"\r\n\r\n" for c in chunks]
            return Reply(200, b"", chunks=events, content_type="text/event-stream")
        # Without alt=sse the service streams one JSON array, element by element.
        parts = [json.dumps(c, ensure_ascii=False).encode() for c in chunks]
        pieces = [b"[" + parts[0], *(b",\r\n" + p for p in parts[1:])]
        pieces[-1] += b"]"
        return Reply(200, b"", chunks=pieces)

    def count_tokens(self, call: Call) -> Reply:
        served = self.lineup.get(call.params["model"], "countTokens", call.version)
        check_body_size(call.body)
        request = read_message("CountTokensRequest", json_body(call.body))
        inner = request.get("generateContentRequest")
        if inner is not None and request.get("contents"):
            raise ApiError(400, "Only one of contents and generate_content_request can be set.")
        target = inner if inner is not None else request
        if not target.get("contents"):
            raise ApiError(400, "* CountTokensRequest.contents: contents is not specified\n")
        tokens = request_prompt_tokens(target)
        del served
        return _reply({"totalTokens": tokens, "promptTokensDetails": prompt_token_details(target)})

    def embed_content(self, call: Call) -> Reply:
        served = self.lineup.get(call.params["model"], "embedContent", call.version)
        check_body_size(call.body)
        request = read_message("EmbedContentRequest", json_body(call.body))
        check_embed(served, request)
        return _reply({"embedding": embed(request, served.dimensions, served.input_limit)})

    def batch_embed_contents(self, call: Call) -> Reply:
        served = self.lineup.get(call.params["model"], "batchEmbedContents", call.version)
        check_body_size(call.body)
        body = read_message("BatchEmbedContentsRequest", json_body(call.body))
        requests = body.get("requests") or []
        if not requests:
            raise ApiError(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
        if len(requests) > 100:
            raise ApiError(
                400, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n"
            )
        for i, request in enumerate(requests):
            named = str(request.get("model") or f"models/{served.id}").removeprefix("models/")
            if named != served.id:
                raise ApiError(
                    400,
                    f"Model names of all requests must match the model of the batch: models/{served.id}, "
                    f"but requests[{i}] names models/{named}.",
                )
            check_embed(served, request, f"requests[{i}].content")
        return _reply({"embeddings": [embed(r, served.dimensions, served.input_limit) for r in requests]})

    def models_get(self, call: Call) -> Reply:
        served = self.lineup.find(call.params["id"])
        if served is None:
            raise not_found(call.params["id"], "get", call.version)
        return _reply(served.resource())

    def models_list(self, call: Call) -> Reply:
        raw = call.query.get("pageSize")
        try:
            size = int(raw) if raw not in (None, "") else DEFAULT_MODELS_PAGE
        except ValueError:
            raise ApiError(400, f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"") from None
        size = DEFAULT_MODELS_PAGE if size <= 0 else min(size, MAX_MODELS_PAGE)
        ids = self.lineup.ids()
        given = call.query.get("pageToken")
        if given:
            after = read_page_token("models", given)
            ids = [i for i in ids if i > after]
        page = ids[:size]
        out: dict[str, Any] = {"models": [self.lineup.get(i).resource() for i in page]}
        if len(ids) > size:
            out["nextPageToken"] = page_token("models", page[-1])
        return _reply(out)

    def unsupported(self, call: Call) -> Reply:
        # A method of the service that no model here serves (predict, generateAnswer, ...).
        raise not_found(call.params["model"], call.params["method"], call.version)

    def unemulated_get(self, call: Call) -> Reply:
        if call.params["collection"] == "cachedContents":
            raise ApiError(403, "CachedContent not found (or permission denied)")
        raise ApiError(404, "Requested entity was not found.")

    def unemulated(self, call: Call) -> Reply:
        raise ApiError(
            501,
            f"The gembatch emulator does not implement {call.params['what']}; the Gemini API does. "
            "Use the real service for it.",
            status="UNIMPLEMENTED",
        )


def _base_id(checked: Checked) -> str:
    """The catalogue id whose rate limits apply (a versioned name shares its model's)."""
    info = checked.model.info
    return info.id if info is not None else checked.model.id


def _reply(data: Any) -> Reply:
    return Reply.json(data)


def batch_line_answer(
    served: Any, kind: str, *, file_exists: Callable[[str], bool], own_host: str
) -> Callable[[dict[str, Any], int | None], dict[str, Any]]:
    """How one line of a batch job is answered: checked like a request, then generated/embedded."""
    if kind == "embed":

        def embed_line(request: dict[str, Any], tokens: int | None) -> dict[str, Any]:
            check_embed(served, request, "request.content")
            return {"embedding": embed(request, served.dimensions, served.input_limit)}

        return embed_line

    def generate_line(request: dict[str, Any], tokens: int | None) -> dict[str, Any]:
        checked = check_generate(
            served, request, file_exists=file_exists, own_host=own_host, prompt_tokens=tokens
        )
        return respond(checked)

    return generate_line
