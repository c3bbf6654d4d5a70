"""The service's checks of a parsed request: contents, file references, generation config, limits.

These run after :mod:`gembatch.emulator._proto` accepted the body's shape, in the order a user
meets them, and raise the service's error (status and message) at the first problem. The same
checks run for each line of a batch, where a problem fails that line only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gembatch.emulator._errors import ApiError
from gembatch.emulator._lineup import Served
from gembatch.emulator._thinking import Plan, plan_thinking
from gembatch.emulator._tokenizer import request_prompt_tokens

__all__ = [
    "MAX_BODY_BYTES",
    "Checked",
    "check_body_size",
    "check_embed",
    "check_generate",
    "check_inline",
    "file_id_of",
]

# generateContent, countTokens and embedContent bodies (the service: "20 MB" including inline data).
MAX_BODY_BYTES = 20 * 1024 * 1024
_DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
)
_MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")
_FILE_URI = re.compile(r"^(?:(?:https?://(?P<host>[^/]+))?/?(?:v1\w*/)?)?files/(?P<id>[a-z0-9][a-z0-9-]*)$")
_CACHED = re.compile(r"^cachedContents/[A-Za-z0-9_-]+$")
_SERVICE_HOST = "generativelanguage.googleapis.com"


@dataclass(frozen=True)
class Checked:
    """A request that passed: the model, the camelCase request, its prompt tokens and plans."""

    model: Served
    request: dict[str, Any]
    prompt_tokens: int
    thinking: Plan
    candidates: int = 1


def _field(path: str, problem: str) -> ApiError:
    # The service's semantic checks answer "* GenerateContentRequest.<path>: <problem>\n".
    return ApiError(400, f"* GenerateContentRequest.{path}: {problem}\n")


def check_body_size(body: bytes, limit: int = MAX_BODY_BYTES) -> None:
    if len(body) > limit:
        raise ApiError(400, f"Request payload size exceeds the limit: {limit} bytes.")


def file_id_of(uri: str, own_host: str) -> str | None:
    """The Files API id a ``fileUri`` names (on the service or this emulator), else None."""
    m = _FILE_URI.match(uri.strip())
    if m is None:
        return None
    host = m.group("host")
    if host is not None and host not in (_SERVICE_HOST, own_host):
        return None
    return m.group("id")


def _check_contents(contents: Any, where: str, file_exists: Callable[[str], bool], own_host: str) -> None:
    if not contents:
        raise _field(where, f"{where.rsplit('.', 1)[-1]} is not specified")
    for i, content in enumerate(contents):
        at = f"{where}[{i}]"
        role = content.get("role")
        if role not in (None, "", "user", "model", "function"):
            raise ApiError(400, "Please use a valid role: user, model.")
        parts = content.get("parts") or []
        if not parts:
            raise _field(f"{at}.parts", "contents.parts must not be empty.")
        for j, part in enumerate(parts):
            _check_part(part, f"{at}.parts[{j}]", file_exists, own_host)


def _check_part(part: Mapping[str, Any], at: str, file_exists: Callable[[str], bool], own_host: str) -> None:
    # A part may carry only a thought (its signature), as replayed chat history does.
    if not any(name in part for name in (*_DATA_FIELDS, "thought", "thoughtSignature")):
        raise _field(f"{at}.data", "required oneof field 'data' must have one initialized field")
    blob = part.get("inlineData")
    if blob is not None:
        if not blob.get("data"):
            raise _field(f"{at}.inline_data.data", "required field is not set")
        if not blob.get("mimeType"):
            raise _field(f"{at}.inline_data.mime_type", "required field is not set")
    ref = part.get("fileData")
    if ref is not None:
        uri = str(ref.get("fileUri") or "")
        file_id = file_id_of(uri, own_host)
        if file_id is None:
            raise ApiError(400, f"Invalid or unsupported file uri: {uri}")
        if not file_exists(file_id):
            raise ApiError(
                403, f"You do not have permission to access the File {file_id} or it may not exist."
            )


def _check_config(model: Served, config: Mapping[str, Any]) -> int:
    """Value checks of ``generationConfig``; returns the candidate count."""
    count = config.get("candidateCount")
    if count is not None and not 1 <= count <= 8:
        raise _field("generation_config.candidate_count", "must be between 1 and 8, inclusive.")
    max_out = config.get("maxOutputTokens")
    if max_out is not None and not 1 <= max_out <= model.output_limit:
        raise ApiError(
            400,
            f"Unable to submit request because it has a maxOutputTokens value of {max_out} but the "
            f"supported range is from 1 (inclusive) to {model.output_limit + 1} (exclusive). Update "
            "the value and try again.",
        )
    temperature = config.get("temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise _field("generation_config.temperature", "temperature must be in the range [0.0, 2.0]")
    top_p = config.get("topP")
    if top_p is not None and not 0 <= top_p <= 1:
        raise _field("generation_config.top_p", "top_p must be in the range [0.0, 1.0]")
    top_k = config.get("topK")
    if top_k is not None and top_k < 1:
        raise _field("generation_config.top_k", "top_k must be positive")
    if len(config.get("stopSequences") or []) > 5:
        raise _field("generation_config.stop_sequences", "at most 5 stop sequences are allowed")
    if config.get("logprobs") is not None and not config.get("responseLogprobs"):
        raise ApiError(400, "logprobs can only be set when response_logprobs is true.")
    if config.get("responseLogprobs"):
        if not model.logprobs:
            raise ApiError(400, f"Logprobs is not enabled for models/{model.id}")
        if not 0 <= (config.get("logprobs") or 0) <= 20:
            raise _field("generation_config.logprobs", "logprobs must be in the range [0, 20]")
    mime = config.get("responseMimeType")
    if mime and mime not in _MIME_TYPES:
        raise _field(
            "generation_config.response_mime_type",
            "allowed mimetypes are `text/plain`, `application/json`, `application/xml`, "
            "`application/yaml` and `text/x.enum`.",
        )
    has_schema = config.get("responseSchema") is not None
    if mime == "text/x.enum":
        schema = config.get("responseSchema") or config.get("responseJsonSchema") or {}
        if not (isinstance(schema, Mapping) and schema.get("enum") and _type(schema) == "STRING"):
            raise _field(
                "generation_config.response_schema",
                "For the text/x.enum response MIME type, response_schema must be a STRING schema "
                "with enum values.",
            )
    if has_schema and config.get("responseJsonSchema") is not None:
        raise _field("generation_config", "response_schema and response_json_schema cannot both be set.")
    if (has_schema or config.get("responseJsonSchema") is not None) and mime in (None, "", "text/plain"):
        raise _field(
            "generation_config.response_mime_type",
            "When response_schema is set, response_mime_type must be application/json or text/x.enum.",
        )
    return int(count or 1)


def _type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type", "STRING")
    return str(kind[0] if isinstance(kind, list) and kind else kind).upper().removeprefix("TYPE_")


def _check_tools(tools: Any, tool_config: Mapping[str, Any]) -> None:
    tools = tools or []
    searches = any("googleSearch" in t or "googleSearchRetrieval" in t for t in tools)
    functions = any(t.get("functionDeclarations") for t in tools)
    if searches and functions and not tool_config.get("includeServerSideToolInvocations"):
        # Built-in search and the caller's functions mix only with server-side tool invocations.
        raise ApiError(400, "Tool use with function calling is unsupported")
    for tool in tools:
        search = tool.get("fileSearch") or {}
        for name in search.get("fileSearchStoreNames") or []:
            # The emulator has no file search stores: every named store is one that does not exist.
            raise ApiError(404, f"File search store {name} does not exist.")


def check_generate(
    model: Served,
    request: dict[str, Any],
    *,
    file_exists: Callable[[str], bool],
    own_host: str = "",
    prompt_tokens: int | None = None,
    context_window: bool = True,
) -> Checked:
    """Check a parsed GenerateContentRequest for ``model``; raises the service's error.

    ``context_window=False`` skips the input-token limit: a batch's inline requests are checked at
    create, but one over the context window fails only its own line when the job runs.
    """
    _check_contents(request.get("contents"), "contents", file_exists, own_host)
    system = request.get("systemInstruction")
    if system is not None:
        for j, part in enumerate(system.get("parts") or []):
            _check_part(part, f"system_instruction.parts[{j}]", file_exists, own_host)
    cached = request.get("cachedContent")
    if cached:
        if not _CACHED.match(cached):
            raise ApiError(
                400, f'Invalid resource name "{cached}": expected the form cachedContents/{{cachedContent}}.'
            )
        raise ApiError(403, "CachedContent not found (or permission denied)")
    _check_tools(request.get("tools"), request.get("toolConfig") or {})
    config = request.get("generationConfig") or {}
    candidates = _check_config(model, config)
    plan = plan_thinking(model, config)
    if prompt_tokens is not None:
        tokens = prompt_tokens
    else:
        tokens = request_prompt_tokens(request) if context_window else 0
    if context_window and tokens > model.input_limit:
        raise ApiError(
            400,
            f"The input token count ({tokens}) exceeds the maximum number of tokens allowed "
            f"({model.input_limit}).",
        )
    return Checked(model, request, tokens, plan, candidates)


def check_inline(
    model: Served, requests: list[dict[str, Any]], *, file_exists: Callable[[str], bool], own_host: str
) -> None:
    """Check the inline requests of a batch create; the error names the request's path in the batch."""
    for i, request in enumerate(requests):
        try:
            check_generate(model, request, file_exists=file_exists, own_host=own_host, context_window=False)
        except ApiError as exc:
            where = f"* BatchGenerateContentRequest.batch.input_config.requests.requests[{i}].request."
            exc.message = exc.message.replace("* GenerateContentRequest.", where, 1)
            raise


def check_embed(model: Served, request: Mapping[str, Any], where: str = "content") -> None:
    """Check one EmbedContentRequest (the content, and the vector size asked for)."""
    content = request.get("content")
    if not content or not content.get("parts"):
        raise ApiError(400, f"* EmbedContentRequest.{where}: content is not specified\n")
    for j, part in enumerate(content.get("parts") or []):
        if not any(name in part for name in _DATA_FIELDS):
            raise ApiError(
                400,
                f"* EmbedContentRequest.{where}.parts[{j}].data: required oneof field 'data' must have "
                "one initialized field\n",
            )
    size = request.get("outputDimensionality")
    if size is not None and not 1 <= size <= model.dimensions:
        raise ApiError(
            400, f"* EmbedContentRequest.output_dimensionality: must be between 1 and {model.dimensions}\n"
        )
