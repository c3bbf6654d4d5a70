"""The Files API: resumable uploads, metadata, downloads, storage quota and 48 h expiry."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gembatch.emulator._clock import rfc3339
from gembatch.emulator._errors import ApiError, invalid, not_found, quota_error
from gembatch.emulator._persist import new_id, read_json, write_json
from gembatch.emulator._reply import page_token, read_page_token

__all__ = ["FileRecord", "FileStore", "UploadSession"]

FILE_LIFETIME_S = 48 * 3600.0


@dataclass
class FileRecord:
    """One stored file; the bytes live in ``<dir>/<id>.data``."""

    id: str
    display_name: str
    mime_type: str
    size: int
    create_time: float
    expire_time: float
    sha256: str
    source: str = "UPLOADED"
    project: str = "default"  # the project of the API key that made it; others cannot see it

    @property
    def name(self) -> str:
        return f"files/{self.id}"

    def resource(self, base_url: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(self.size),
            "createTime": rfc3339(self.create_time),
            "updateTime": rfc3339(self.create_time),
            "expirationTime": rfc3339(self.expire_time),
            "sha256Hash": self.sha256,
            "uri": f"{base_url}/v1beta/files/{self.id}",
            "state": "ACTIVE",
            "source": self.source,
        }
        if self.display_name:
            body["displayName"] = self.display_name
        if self.source == "GENERATED":
            body["downloadUri"] = f"{base_url}/download/v1beta/files/{self.id}:download?alt=media"
        return body


@dataclass
class UploadSession:
    """A resumable upload in progress."""

    id: str
    file_id: str
    display_name: str
    mime_type: str
    size: int
    path: Path
    received: int = 0
    hasher: Any = None
    lock: Any = None
    project: str = "default"


class FileStore:
    """Files on disk under ``root`` with an in-memory index; thread-safe."""

    def __init__(self, root: Path, *, file_limit: int, storage_limit: int):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.file_limit = file_limit
        self.storage_limit = storage_limit
        self._lock = threading.RLock()
        self._files: dict[str, FileRecord] = {}
        self._uploads: dict[str, UploadSession] = {}
        for meta in sorted(self.root.glob("*.json")):
            rec = FileRecord(**read_json(meta))
            if self.data_path(rec.id).exists():
                self._files[rec.id] = rec

    def data_path(self, file_id: str) -> Path:
        return self.root / f"{file_id}.data"

    def used_bytes(self) -> int:
        with self._lock:
            return sum(f.size for f in self._files.values())

    # --- uploads -------------------------------------------------------------------------
    def start_upload(
        self,
        *,
        size: int,
        mime_type: str,
        display_name: str,
        name: str | None,
        now: float,
        project: str = "default",
    ) -> UploadSession:
        if size < 0:
            raise invalid("file.size_bytes", "must be >= 0")
        if size > self.file_limit:
            raise invalid(
                "file.size_bytes",
                f"file of {size} bytes exceeds the maximum file size of {self.file_limit} bytes",
            )
        file_id = (name or "").removeprefix("files/") or new_id()
        with self._lock:
            if file_id in self._files:
                raise ApiError(409, f"File files/{file_id} already exists.")
            pending = sum(s.size - s.received for s in self._uploads.values())
            if self.used_bytes() + pending + size > self.storage_limit:
                raise quota_error(
                    "file_storage_bytes", "FileStorageBytesPerProject", self.storage_limit, None, 3600
                )
            session = UploadSession(
                id=new_id(24),
                file_id=file_id,
                display_name=display_name,
                mime_type=mime_type,
                size=size,
                path=self.root / f"upload-{file_id}.part",
                hasher=hashlib.sha256(),
                lock=threading.Lock(),
                project=project,
            )
            session.path.write_bytes(b"")
            self._uploads[session.id] = session
        return session

    def upload_chunk(
        self, upload_id: str, offset: int | None, data: bytes, finalize: bool, now: float
    ) -> FileRecord | None:
        with self._lock:
            session = self._uploads.get(upload_id)
        if session is None:
            raise not_found(f"Upload session {upload_id}")
        with session.lock:
            if offset is not None and offset != session.received:
                raise invalid("X-Goog-Upload-Offset", f"expected offset {session.received}, got {offset}")
            if session.received + len(data) > session.size:
                raise invalid(
                    "X-Goog-Upload-Offset", f"upload exceeds the declared size of {session.size} bytes"
                )
            with session.path.open("ab") as fh:
                fh.write(data)
            session.hasher.update(data)
            session.received += len(data)
            if not finalize:
                return None
            if session.received != session.size:
                raise invalid(
                    "X-Goog-Upload-Header-Content-Length",
                    f"declared {session.size} bytes, received {session.received}",
                )
            with self._lock:
                self._uploads.pop(upload_id, None)
            os.replace(session.path, self.data_path(session.file_id))
            digest = base64_sha(session.hasher.digest())
            rec = FileRecord(
                id=session.file_id,
                display_name=session.display_name,
                mime_type=session.mime_type,
                size=session.size,
                create_time=now,
                expire_time=now + FILE_LIFETIME_S,
                sha256=digest,
                project=session.project,
            )
            self._register(rec)
            return rec

    def received(self, upload_id: str) -> int:
        """Bytes received so far by a resumable upload."""
        with self._lock:
            session = self._uploads.get(upload_id)
        if session is None:
            raise not_found(f"Upload session {upload_id}")
        return session.received

    # --- generated files -------------------------------------------------------------------
    def add_generated(
        self,
        file_id: str,
        source_path: Path,
        now: float,
        *,
        mime_type: str = "application/jsonl",
        sha256: str | None = None,
        project: str = "default",
    ) -> FileRecord:
        os.replace(source_path, self.data_path(file_id))
        if sha256 is None:
            hasher = hashlib.sha256()
            with self.data_path(file_id).open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    hasher.update(block)
            sha256 = base64_sha(hasher.digest())
        rec = FileRecord(
            id=file_id,
            display_name="",
            mime_type=mime_type,
            size=self.data_path(file_id).stat().st_size,
            create_time=now,
            expire_time=now + FILE_LIFETIME_S,
            sha256=sha256,
            source="GENERATED",
            project=project,
        )
        self._register(rec)
        return rec

    def _register(self, rec: FileRecord) -> None:
        with self._lock:
            self._files[rec.id] = rec
            write_json(self.root / f"{rec.id}.json", asdict(rec))

    # --- reads ---------------------------------------------------------------------------
    def get(self, file_id: str, project: str | None = None) -> FileRecord:
        """The file, or the service's 403; with ``project``, another project's file is as missing."""
        file_id = file_id.removeprefix("files/")
        with self._lock:
            rec = self._files.get(file_id)
        if rec is None or (project is not None and rec.project != project):
            # The service does not say whether a file is missing, expired or someone else's.
            raise ApiError(
                403, f"You do not have permission to access the File {file_id} or it may not exist."
            )
        return rec

    def exists(self, file_id: str, project: str | None = None) -> bool:
        with self._lock:
            rec = self._files.get(file_id.removeprefix("files/"))
        return rec is not None and (project is None or rec.project == project)

    def records(self, project: str | None = None) -> list[FileRecord]:
        with self._lock:
            recs = [f for f in self._files.values() if project is None or f.project == project]
        return sorted(recs, key=_order)

    def page(
        self, size: int, token: str | None, project: str | None = None
    ) -> tuple[list[FileRecord], str | None]:
        """One page of the newest-first listing, and the token of the next page (None at the end).

        The token is a cursor (the last file's place in the order), not an offset: a file uploaded
        between two pages sorts before the cursor, so no file is listed twice or skipped.
        """
        files = self.records(project)
        if token:
            created, _, last_id = read_page_token("files", token).partition(":")
            try:
                after = (-float(created), last_id)
            except ValueError:
                raise ApiError(400, "Invalid page token.") from None
            files = [f for f in files if _order(f) > after]
        page = files[:size]
        if len(files) <= size:
            return page, None
        last = page[-1]
        return page, page_token("files", f"{last.create_time!r}:{last.id}")

    def delete(self, file_id: str, project: str | None = None) -> None:
        rec = self.get(file_id, project)
        with self._lock:
            self._files.pop(rec.id, None)
        for path in (self.root / f"{rec.id}.json", self.data_path(rec.id)):
            path.unlink(missing_ok=True)

    def expire(self, now: float) -> list[str]:
        """Delete files whose 48 h lifetime has passed; returns their names."""
        with self._lock:
            gone = [f.id for f in self._files.values() if f.expire_time <= now]
        for file_id in gone:
            with contextlib.suppress(ApiError):
                self.delete(file_id)
        return [f"files/{i}" for i in gone]


def _order(rec: FileRecord) -> tuple[float, str]:
    return (-rec.create_time, rec.id)


def base64_sha(digest: bytes) -> str:
    return base64.b64encode(digest).decode()
