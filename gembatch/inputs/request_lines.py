"""Google batch request lines: the request spec and a streaming JSONL writer."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from gembatch.errors import InputError
from gembatch.inputs.prompts import PromptTemplate
from gembatch.inputs.schemas import check_schema, schema_from_model

if TYPE_CHECKING:
    from google.genai import types

__all__ = [
    "DEFAULT_EXPECTED_OUTPUT_TOKENS",
    "PromptTemplate",
    "RequestSpec",
    "check_schema",
    "encode_lines",
    "inlined_request",
    "iter_request_lines",
    "request_line",
    "schema_from_model",
    "validate_request",
    "write_jsonl",
]

DEFAULT_EXPECTED_OUTPUT_TOKENS = 300
# A dynamic thinking budget (-1) has no stated size; this is the expectation used for estimates.
DYNAMIC_THINKING_TOKENS = 1024
# Compact separators and raw UTF-8: the smallest lines, and what the byte estimates assume.
_DUMPS = {"ensure_ascii": False, "separators": (",", ":")}
_BLOCK = 512


@dataclass(frozen=True)
class RequestSpec:
    """Everything that makes a request from an article, except the article.

    ``expected_output_tokens`` and ``expected_thinking_tokens`` feed the estimates only; they
    never appear in a request. ``response_schema`` is a Gemini Schema dict (camelCase); build it
    from a pydantic model with :meth:`create`.

    Examples
    --------
    >>> spec = RequestSpec.create("gemini-2.5-flash-lite", "Summarise: {text}", temperature=0.2)
    >>> spec.build_request({"text": "Hi."})["contents"][0]["parts"][0]["text"]
    'Summarise: Hi.'
    """

    model: str
    prompt: str = "{text}"
    system_instruction: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    thinking_budget: int | None = None
    response_schema: dict[str, Any] | None = None
    expected_output_tokens: int = DEFAULT_EXPECTED_OUTPUT_TOKENS
    expected_thinking_tokens: int | None = None
    _generation_config: dict[str, Any] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", self.model.removeprefix("models/").strip())
        if not self.model:
            raise InputError("model must be a model id such as 'gemini-2.5-flash-lite'")
        PromptTemplate(self.prompt).check()
        if self.expected_output_tokens < 0:
            raise InputError("expected_output_tokens must be >= 0")
        if self.max_output_tokens is not None and self.max_output_tokens <= 0:
            raise InputError("max_output_tokens must be a positive number of tokens")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise InputError(f"temperature must be between 0 and 2, not {self.temperature}")
        if self.response_schema is not None:
            object.__setattr__(self, "response_schema", dict(self.response_schema))
            check_schema(self.response_schema)
        object.__setattr__(self, "_generation_config", self._build_generation_config())

    @classmethod
    def create(cls, model: str, prompt: str = "{text}", *, schema: Any = None, **kwargs: Any) -> RequestSpec:
        """Like the constructor, but ``schema`` may be a pydantic model (or any type the SDK accepts)."""
        if schema is not None:
            kwargs["response_schema"] = schema_from_model(schema)
        return cls(model=model, prompt=prompt, **kwargs)

    @property
    def template(self) -> PromptTemplate:
        return PromptTemplate(self.prompt)

    @property
    def thinking_tokens(self) -> int:
        """Expected thinking tokens per request (billed as output)."""
        if self.expected_thinking_tokens is not None:
            return self.expected_thinking_tokens
        if self.thinking_budget is None or self.thinking_budget == 0:
            return 0
        return DYNAMIC_THINKING_TOKENS if self.thinking_budget < 0 else self.thinking_budget

    def _build_generation_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {}
        if self.temperature is not None:
            cfg["temperature"] = self.temperature
        if self.max_output_tokens is not None:
            cfg["maxOutputTokens"] = self.max_output_tokens
        if self.thinking_budget is not None:
            cfg["thinkingConfig"] = {"thinkingBudget": self.thinking_budget}
        if self.response_schema is not None:
            cfg["responseMimeType"] = "application/json"
            cfg["responseSchema"] = self.response_schema
        return cfg

    def build_request(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The GenerateContentRequest body (camelCase) for one article row."""
        request: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": self.template.render(row)}]}]
        }
        if self.system_instruction:
            request["systemInstruction"] = {"parts": [{"text": self.system_instruction}]}
        if self._generation_config:
            request["generationConfig"] = dict(self._generation_config)
        return request

    def request_overhead_chars(self) -> int:
        """Characters every request carries besides its articles: template text, system
        instruction and response schema (the schema counts towards the input tokens)."""
        n = len(self.template.static_text) + len(self.system_instruction or "")
        if self.response_schema is not None:
            n += len(json.dumps(self.response_schema, **_DUMPS))  # type: ignore[arg-type]
        return n

    def __hash__(self) -> int:  # equal specs have equal fingerprints
        return hash(self.fingerprint())

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RequestSpec:
        known = {f.name for f in fields(cls) if f.init}
        unknown = set(data) - known
        if unknown:
            raise InputError(f"unknown RequestSpec field(s): {', '.join(sorted(unknown))}")
        return cls(**dict(data))

    def fingerprint(self) -> str:
        """A short hash of what shapes the requests (estimate-only fields excluded)."""
        data = {k: v for k, v in asdict(self).items() if not k.startswith(("expected_", "_"))}
        blob = json.dumps(data, sort_keys=True, **_DUMPS).encode()  # type: ignore[arg-type]
        return hashlib.sha256(blob).hexdigest()[:16]


def request_line(key: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """One line of a batch input file: ``{"key": ..., "request": ...}``."""
    return {"key": key, "request": request}


def iter_request_lines(articles: pd.DataFrame, spec: RequestSpec) -> Iterator[dict[str, Any]]:
    """Request lines for an articles frame (index ``article_id``), in order, one at a time."""
    names = spec.template.fields
    spec.template.check_columns(articles.columns)
    # A slice at a time: the texts live in Arrow buffers, and turning all 12k of them into Python
    # strings at once would double the memory.
    for start in range(0, len(articles), _BLOCK):
        block = articles.iloc[start : start + _BLOCK]
        columns = [block[name].tolist() for name in names]
        for key, *values in zip(block.index.tolist(), *columns, strict=True):
            yield request_line(str(key), spec.build_request(dict(zip(names, values, strict=True))))


def line_overhead_bytes(spec: RequestSpec, key_bytes: int = 0) -> int:
    """Bytes of a JSONL line whose placeholders are all empty and whose key is empty, plus newline."""
    line = request_line("", spec.build_request(_EmptyRow()))
    return len(json.dumps(line, **_DUMPS).encode()) + 1 + key_bytes  # type: ignore[arg-type]


class _EmptyRow(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def write_jsonl(lines: Iterable[Mapping[str, Any]], dest: str | os.PathLike[str] | IO[bytes]) -> int:
    """Stream ``lines`` as JSONL to a path (written atomically) or a binary file; return bytes written.

    Lines are encoded a few hundred at a time, never the whole file as one string.
    """
    if isinstance(dest, str | os.PathLike):
        path = Path(dest)
        tmp = path.with_name(path.name + ".part")
        try:
            with open(tmp, "wb") as fh:
                n = _write(lines, fh)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return n
    return _write(lines, dest)


def encode_lines(lines: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """Each line as compact UTF-8 JSON bytes with its newline (what :func:`write_jsonl` writes)."""
    dumps = json.JSONEncoder(**_DUMPS).encode  # type: ignore[arg-type]
    return [(dumps(line) + "\n").encode() for line in lines]


def _write(lines: Iterable[Mapping[str, Any]], fh: IO[bytes]) -> int:
    dumps = json.JSONEncoder(**_DUMPS).encode  # type: ignore[arg-type]
    total = 0
    buf: list[str] = []
    for line in lines:
        buf.append(dumps(line))
        if len(buf) >= 256:
            total += fh.write(("\n".join(buf) + "\n").encode())
            buf.clear()
    if buf:
        total += fh.write(("\n".join(buf) + "\n").encode())
    if isinstance(fh, io.BufferedIOBase | io.RawIOBase):
        fh.flush()
    return total


def validate_request(request: Mapping[str, Any]) -> None:
    """Check a request body against google-genai's own pydantic types; raise :class:`InputError`."""
    from google.genai import types
    from pydantic import ValidationError

    allowed = {"contents", "systemInstruction", "generationConfig"}
    extra = set(request) - allowed
    if extra:
        raise InputError(f"request has unknown field(s): {', '.join(sorted(extra))}")
    try:
        contents = request.get("contents")
        if not isinstance(contents, list) or not contents:
            raise InputError("request.contents must be a non-empty list of Content")
        for c in contents:
            types.Content.model_validate(c)
        if "systemInstruction" in request:
            types.Content.model_validate(request["systemInstruction"])
        if "generationConfig" in request:
            types.GenerationConfig.model_validate(request["generationConfig"])
    except ValidationError as exc:
        raise InputError(f"request does not validate against google-genai types: {exc}") from None


def inlined_request(line: Mapping[str, Any]) -> types.InlinedRequest:
    """The SDK's ``types.InlinedRequest`` for a request line (key kept in ``metadata``)."""
    from google.genai import types

    request = line["request"]
    validate_request(request)
    gen = types.GenerationConfig.model_validate(request.get("generationConfig", {}))
    config = types.GenerateContentConfig(
        system_instruction=(
            types.Content.model_validate(request["systemInstruction"])
            if "systemInstruction" in request
            else None
        ),
        **gen.model_dump(exclude_none=True, exclude={"model_selection_config"}),
    )
    return types.InlinedRequest(
        contents=[types.Content.model_validate(c) for c in request["contents"]],
        config=config,
        metadata={"key": str(line["key"])},
    )
