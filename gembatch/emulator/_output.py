"""Batch input scanning (streamed, linear) and output generation, one line at a time.

Each input line is read and checked as the service reads a request (unknown fields, a prompt over
the context window, a missing file...); a line that fails gets an ``error`` entry in the output
and the rest of the job goes on, as on the service.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gembatch.emulator._errors import ApiError, error_body
from gembatch.emulator._faults import Profile
from gembatch.emulator._files import FileStore
from gembatch.emulator._jobs import roll
from gembatch.emulator._proto import read_message
from gembatch.emulator._tokenizer import request_prompt_tokens

__all__ = ["Answer", "InputScan", "generate_output", "iter_input", "scan_input", "stage_input"]

# Turns one checked-shape request into its response object, or raises the service's ApiError.
Answer = Callable[[dict[str, Any], int | None], dict[str, Any]]
_LINE_MESSAGE = {"generate": "BatchLine", "embed": "EmbedBatchLine"}

_LINE_MESSAGES = {
    400: "Request contains an invalid argument.",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred.",
    503: "The model is overloaded. Please try again later.",
}


@dataclass
class InputScan:
    """What a create needs to know about a batch's input: counts and prompt tokens per line."""

    count: int = 0
    tokens: int = 0
    line_tokens: array[int] = field(default_factory=lambda: array("q"))


def _parse_line(
    raw: bytes, lineno: int, kind: str = "generate"
) -> tuple[Any, dict[str, Any] | None, str | None]:
    """(key, camelCase request, problem) for one JSONL line."""
    try:
        item = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, None, f"line {lineno}: not valid JSON ({exc.msg})"
    except UnicodeDecodeError:
        return None, None, f"line {lineno}: not valid UTF-8"
    if not isinstance(item, dict):
        return None, None, f"line {lineno}: expected a JSON object"
    key = item.get("key")
    meta = item.get("metadata")
    if key is None and isinstance(meta, Mapping):
        key = meta.get("key")
    try:
        line = read_message(_LINE_MESSAGE[kind], item)
    except ApiError as exc:
        return key, None, exc.message
    request = line.get("request")
    if not isinstance(request, dict):
        return key, None, f"line {lineno}: missing 'request' object"
    return key, request, None


def iter_input(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a JSONL file, streamed, with their 1-based line numbers."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                yield lineno, raw


def _tokens(request: Mapping[str, Any], kind: str) -> int:
    if kind == "embed":
        return request_prompt_tokens({"contents": [request.get("content") or {}]})
    return request_prompt_tokens(request)


def scan_input(path: Path, kind: str = "generate") -> InputScan:
    """Count requests and their prompt tokens in one pass, holding one line at a time."""
    scan = InputScan()
    for lineno, raw in iter_input(path):
        _key, request, _problem = _parse_line(raw, lineno, kind)
        tokens = _tokens(request, kind) if request is not None else 0
        scan.count += 1
        scan.tokens += tokens
        scan.line_tokens.append(tokens)
    return scan


def _line_fault(profile: Profile, seed: int, job_seq: int, index: int) -> int | None:
    if profile.line_error_rate <= 0 or roll(seed, "line", job_seq, index) >= profile.line_error_rate:
        return None
    mix = sorted((int(k), float(v)) for k, v in profile.line_error_mix.items() if float(v) > 0)
    if not mix:
        return 500
    pick = roll(seed, "mix", job_seq, index) * sum(w for _, w in mix)
    for status, weight in mix:
        pick -= weight
        if pick < 0:
            return status
    return mix[-1][0]


def generate_output(
    *,
    input_path: Path,
    output_path: Path,
    answer: Answer,
    inline: bool,
    kind: str,
    profile: Profile,
    seed: int,
    job_seq: int,
    line_tokens: array[int] | None,
    cancelled: Callable[[], bool],
) -> tuple[int, int, str] | None:
    """Write the job's output (JSONL lines, or a JSON list for inline jobs) in input order.

    Returns (successful, failed, base64 sha256 of the output), or None when the job was
    cancelled meanwhile.
    """
    ok = fail = 0
    hasher = hashlib.sha256()
    tmp = output_path.with_name(output_path.name + ".tmp")
    with tmp.open("wb") as fh:

        def write(data: bytes) -> None:
            hasher.update(data)
            fh.write(data)

        if inline:
            write(b"[")
        for index, (lineno, raw) in enumerate(iter_input(input_path)):
            if index % 256 == 0 and cancelled():
                fh.close()
                tmp.unlink(missing_ok=True)
                return None
            key, request, problem = _parse_line(raw, lineno, kind)
            entry: dict[str, Any] = {}
            status = _line_fault(profile, seed, job_seq, index) if problem is None else 400
            if request is not None and status is None:
                tokens = line_tokens[index] if line_tokens is not None and index < len(line_tokens) else None
                try:
                    entry["response"] = answer(request, tokens)
                except ApiError as exc:
                    status, problem = exc.code, exc.message
            if "response" in entry:
                ok += 1
            else:
                code = status or 400
                message = problem or _LINE_MESSAGES.get(code, "Error")
                entry["error"] = error_body(code, message)["error"]
                fail += 1
            if inline:
                meta = json.loads(raw).get("metadata") if problem is None else None
                item = entry | ({"metadata": meta} if isinstance(meta, dict) else {})
                write((b"," if index else b"") + json.dumps(item, ensure_ascii=False).encode())
            else:
                line = ({"key": key} if key is not None else {}) | entry
                write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
        if inline:
            write(b"]")
    tmp.replace(output_path)
    return ok, fail, base64.b64encode(hasher.digest()).decode()


def stage_input(
    files: FileStore, target: Path, batch: dict[str, Any], kind: str = "generate", project: str = "default"
) -> tuple[str, str | None, InputScan]:
    """Copy a batch's input (a stored file, or inline requests) to ``target`` and scan it.

    ``batch`` was read by :func:`read_message`, so inline requests already have the right shape.
    """
    config = batch.get("inputConfig")
    if not isinstance(config, dict):
        raise ApiError(400, "* batch.input_config: input_config is required: give file_name or requests\n")
    file_name, inline = config.get("fileName"), config.get("requests")
    if (file_name is None) == (inline is None):
        raise ApiError(400, "* batch.input_config: set exactly one of file_name and requests\n")
    if file_name is not None:
        rec = files.get(file_name, project)  # missing, expired or another project's: the service's 403
        try:
            os.link(files.data_path(rec.id), target)
        except OSError:
            shutil.copyfile(files.data_path(rec.id), target)
        return "file", rec.name, scan_input(target, kind)
    items = inline.get("requests") if isinstance(inline, dict) else None
    if not isinstance(items, list) or not items:
        raise ApiError(400, "* batch.input_config.requests.requests: requests must not be empty\n")
    scan = InputScan()
    with target.open("wb") as out:
        for i, item in enumerate(items):
            request = item.get("request")
            if not isinstance(request, dict):
                where = f"batch.input_config.requests.requests[{i}].request"
                raise ApiError(400, f"* {where}: request is required\n")
            meta = item.get("metadata")
            key = meta.get("key") if isinstance(meta, dict) else None
            line = {"key": key, "request": request, "metadata": meta}
            out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            tokens = _tokens(request, kind)
            scan.count += 1
            scan.tokens += tokens
            scan.line_tokens.append(tokens)
    return "inline", None, scan
