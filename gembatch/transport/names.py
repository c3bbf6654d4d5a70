"""Resource names checked against the service's grammar before any request carries them."""

from __future__ import annotations

import re

from gembatch.errors import InputError

__all__ = ["batch_name", "file_name", "looks_like_batch"]

# Resource ids are lowercase letters, digits and hyphens (the service's and the emulator's alike).
_ID = r"[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?"
_BATCH = re.compile(rf"batches/({_ID})")
_FILE = re.compile(rf"files/({_ID})")


def looks_like_batch(value: str) -> bool:
    """True for ``batches/…`` names (well formed or not): the caller meant a job, not a directory."""
    return value.strip().startswith("batches/")


def batch_name(value: str) -> str:
    """``batches/<id>`` from a full name or a bare id; anything else is refused before it is sent.

    >>> batch_name("abc123"), batch_name("batches/abc123")
    ('batches/abc123', 'batches/abc123')
    >>> batch_name("batches/../../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gembatch.errors.InputError: 'batches/../../etc/passwd' is not a batch job name: ...
    """
    text = str(value).strip()
    full = text if text.startswith("batches/") else f"batches/{text}"
    if not _BATCH.fullmatch(full):
        raise InputError(
            f"{text!r} is not a batch job name: expected batches/ID or a bare ID of lowercase letters, "
            "digits and hyphens (gembatch status RUN_DIR shows a run's jobs)",
            field="job",
        )
    return full


def file_name(value: str) -> str:
    """``files/<id>`` from a full name or a bare id, checked like :func:`batch_name`."""
    text = str(value).strip()
    full = text if text.startswith("files/") else f"files/{text}"
    if not _FILE.fullmatch(full):
        raise InputError(
            f"{text!r} is not a file name: expected files/ID of lowercase letters, digits and hyphens",
            field="file",
        )
    return full
