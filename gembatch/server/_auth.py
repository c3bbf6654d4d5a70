"""Bearer-token authentication and safe run ids for the REST server."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from fastapi import HTTPException, Request, status

TOKEN_ENV = "GEMBATCH_SERVER_TOKEN"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def resolve_token(explicit: str | None = None) -> tuple[str, bool]:
    """The server token and whether it was generated (so the caller prints it once)."""
    token = explicit or os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token, False
    return secrets.token_urlsafe(24), True


class BearerAuth:
    """A FastAPI dependency that accepts exactly ``Authorization: Bearer <token>``."""

    def __init__(self, token: str):
        if not token:
            raise ValueError("server token must not be empty")
        self._token = token.encode()

    def __call__(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), self._token):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong bearer token (send 'Authorization: Bearer <token>')",
                headers={"WWW-Authenticate": "Bearer"},
            )

    def __repr__(self) -> str:
        return "BearerAuth(token=***)"


def run_path(runs_dir: Path, run_id: str) -> Path:
    """The directory of ``run_id`` inside ``runs_dir``; 400 for anything that could escape it."""
    if not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise HTTPException(
            status_code=status.HTTP_400_BAD_REQUEST,
            detail=f"invalid run id {run_id[:80]!r}: use 1-64 letters, digits, '_', '-' or '.'",
        )
    root = runs_dir.resolve()
    path = (root / run_id).resolve()
    if path.parent != root:
        raise HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail="invalid run id")
    return path
