"""Batch input scanning (streamed, linear) and output generation through the model."""

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

from gembatch.emulator._casing import normalize
from gembatch.emulator._errors import ApiError, error_body, invalid
from gembatch.emulator._faults import Profile
from gembatch.emulator._files import FileStore
from gembatch.emulator._jobs import roll
from gembatch.emulator._model import generate
from gembatch.emulator._tokenizer import request_prompt_tokens

__all__ = ["InputScan", "generate_output", "iter_input", "scan_input", "stage_input"]

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


def _parse_line(raw: bytes, lineno: int) -> tuple[Any, dict[str, Any] | None, str | None]:
    """(key, normalised request, problem) for one JSONL line."""
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
    request = item.get("request")
    if not isinstance(request, dict):
        return key, None, f"line {lineno}: missing 'request' object"
    request = normalize(request)
    if not isinstance(request.get("contents"), list) or not request["contents"]:
        return key, None, f"line {lineno}: request.contents must be a non-empty list"
    return key, request, None


def iter_input(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a JSONL file, streamed, with their 1-based line numbers."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if raw.strip():
                yield lineno, raw


def scan_input(path: Path) -> InputScan:
    """Count requests and their prompt tokens in one pass, holding one line at a time."""
    scan = InputScan()
    for lineno, raw in iter_input(path):
        _key, request, _problem = _parse_line(raw, lineno)
        tokens = request_prompt_tokens(request) if request is not None else 0
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
    model: str,
    inline: bool,
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
            key, request, problem = _parse_line(raw, lineno)
            entry: dict[str, Any] = {}
            status = _line_fault(profile, seed, job_seq, index) if problem is None else 400
            if request is not None and status is None:
                tokens = line_tokens[index] if line_tokens is not None and index < len(line_tokens) else None
                entry["response"] = generate(request, model, tokens)
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


def stage_input(files: FileStore, target: Path, batch: dict[str, Any]) -> tuple[str, str | None, InputScan]:
    """Copy a batch's input (a stored file, or inline requests) to ``target`` and scan it."""
    config = batch.get("inputConfig")
    if not isinstance(config, dict):
        raise invalid("batch.input_config", "is required: give file_name or requests")
    file_name, inline = config.get("fileName"), config.get("requests")
    if (file_name is None) == (inline is None):
        raise invalid("batch.input_config", "set exactly one of file_name and requests")
    if file_name is not None:
        if not isinstance(file_name, str):
            raise invalid("batch.input_config.file_name", "must be a string like 'files/abc123'")
        try:
            rec = files.get(file_name)
        except ApiError:
            raise invalid("batch.input_config.file_name", f"file {file_name} does not exist") from None
        try:
            os.link(files.data_path(rec.id), target)
        except OSError:
            shutil.copyfile(files.data_path(rec.id), target)
        return "file", rec.name, scan_input(target)
    items = inline.get("requests") if isinstance(inline, dict) else None
    if not isinstance(items, list) or not items:
        raise invalid("batch.input_config.requests.requests", "must be a non-empty list")
    scan = InputScan()
    with target.open("wb") as out:
        for i, item in enumerate(items):
            where = f"batch.input_config.requests.requests[{i}]"
            request = item.get("request") if isinstance(item, dict) else None
            if not isinstance(request, dict):
                raise invalid(f"{where}.request", "is required")
            if not isinstance(request.get("contents"), list) or not request["contents"]:
                raise invalid(f"{where}.request.contents", "must be a non-empty list of contents")
            meta = item.get("metadata")
            key = meta.get("key") if isinstance(meta, dict) else None
            line = {"key": key, "request": request, "metadata": meta}
            out.write(json.dumps(line, ensure_ascii=False).encode() + b"\n")
            tokens = request_prompt_tokens(request)
            scan.count += 1
            scan.tokens += tokens
            scan.line_tokens.append(tokens)
    return "inline", None, scan
