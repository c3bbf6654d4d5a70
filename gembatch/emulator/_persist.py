"""Small helpers to keep emulator state on disk: atomic JSON writes and id generation."""

from __future__ import annotations

import json
import os
import secrets
import string
from pathlib import Path
from typing import Any

__all__ = ["new_id", "read_json", "write_json"]

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(length: int = 12) -> str:
    """A random lowercase alphanumeric id, like the real service's file ids."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (write a temp file, then rename over the target)."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, separators=(",", ":")), "utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))
