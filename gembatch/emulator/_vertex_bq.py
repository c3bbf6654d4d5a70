"""The local BigQuery stand-in: bqemulator (DuckDB-backed, from PyPI), started offline and reached here.

bqemulator loads DuckDB's ``spatial`` extension at start and would download it; there is no network
here, so the process gets a private home whose DuckDB extension directory holds the extension from
the ``duckdb-extension-spatial`` wheel (built for the same DuckDB version), and DuckDB's
``INSTALL spatial`` finds it already installed. The Vertex half of the emulator and the backend
reach it with the official google-cloud-bigquery client pointed at ``BIGQUERY_EMULATOR_HOST``,
which must be a loopback URL: the emulator never touches real BigQuery.

bqemulator shares one DuckDB connection between its event loop and its worker threads, and two
requests at once (an insert while a page is read) can deadlock it; so clients reach it through a
small loopback proxy here that forwards one request at a time.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from gembatch.emulator._vertex_gcs import loopback_url, stop_process
from gembatch.errors import BackendError

__all__ = ["BIGQUERY_VAR", "LocalBigQuery", "bigquery_available", "local_bigquery"]

BIGQUERY_VAR = "BIGQUERY_EMULATOR_HOST"
_MISSING = "the BigQuery stand-in is not installed: pip install 'gembatch-runner[vertex]'"


def _spatial_extension() -> tuple[str, Path] | None:
    """(DuckDB version, path) of the spatial extension shipped by ``duckdb-extension-spatial``."""
    try:
        import duckdb_extension_spatial as wheel
    except ImportError:
        return None
    for path in sorted((Path(wheel.__file__).parent / "extensions").glob("v*/spatial.duckdb_extension")):
        return path.parent.name, path
    return None


def bigquery_available() -> bool:
    """True when bqemulator and the offline spatial extension are both installed."""
    try:
        import bqemulator  # noqa: F401
    except ImportError:
        return False
    return _spatial_extension() is not None


def _duckdb_home(root: Path) -> Path:
    """A home directory whose ``.duckdb/extensions`` holds the wheel's spatial extension."""
    found = _spatial_extension()
    if found is None:
        raise BackendError(_MISSING + " (duckdb-extension-spatial is missing)")
    version, source = found
    target = root / ".duckdb" / "extensions" / version / "linux_amd64" / source.name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_HOP = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "content-length"})


def _one_at_a_time(target_port: int) -> type[BaseHTTPRequestHandler]:
    """A handler forwarding each request to ``127.0.0.1:target_port``, never two at once."""
    lock = threading.Lock()

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            with lock:
                conn = http.client.HTTPConnection("127.0.0.1", target_port, timeout=300)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    reply = conn.getresponse()
                    data, status, reason = reply.read(), reply.status, reply.reason
                    answer = reply.getheaders()
                finally:
                    conn.close()
            self.send_response(status, reason)
            for key, value in answer:
                if key.lower() not in _HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _forward

        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

    return Forward


class LocalBigQuery:
    """One bqemulator on 127.0.0.1 (REST on ``port``, gRPC beside it), in memory or under ``root``."""

    def __init__(self, project: str = "local", port: int = 0, root: Path | None = None):
        self.project = project
        self.port = port or _free_port()
        self.grpc_port = _free_port()
        self.root = root
        self.backend_port = _free_port()  # bqemulator itself; clients use ``port`` (the proxy)
        self.process: subprocess.Popen[bytes] | None = None
        self._home: tempfile.TemporaryDirectory[str] | None = None
        self._proxy: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> LocalBigQuery:
        if not bigquery_available():
            raise BackendError(_MISSING)
        self._home = tempfile.TemporaryDirectory(prefix="gembatch-bq-")
        home = _duckdb_home(Path(self._home.name))
        args = [sys.executable, "-m", "bqemulator", "start", "--rest-host", "127.0.0.1",
                "--rest-port", str(self.backend_port),
                "--grpc-host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
                "--project", self.project, "--log-level", "error", "--no-admin"]  # fmt: skip
        if self.root is None:
            args.append("--ephemeral")
        else:
            self.root.mkdir(parents=True, exist_ok=True)
            args += ["--persistent", "--data-dir", str(self.root)]
        env = {**os.environ, "HOME": str(home), "NO_PROXY": "127.0.0.1,localhost"}
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                self.stop()
                raise BackendError(f"the BigQuery stand-in exited at start: {err.strip()[-300:]}")
            backend = ("127.0.0.1", self.backend_port)
            with contextlib.suppress(OSError), socket.create_connection(backend, 0.2):
                return self._serve_proxy()
            time.sleep(0.1)
        self.stop()
        raise BackendError(
            f"the BigQuery stand-in did not listen on 127.0.0.1:{self.port} within {timeout_s:.0f}s"
        )

    def _serve_proxy(self) -> LocalBigQuery:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _one_at_a_time(self.backend_port))
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="gembatch-bigquery-proxy", daemon=True).start()
        self._proxy = server
        return self

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy = None
        stop_process(self.process, grace_s=10)
        self.process = None
        if self._home is not None:
            self._home.cleanup()
            self._home = None

    def __enter__(self) -> LocalBigQuery:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_bigquery(project: str = "local", url: str | None = None) -> Any:
    """A google-cloud-bigquery client for the loopback stand-in at ``url`` or ``$BIGQUERY_EMULATOR_HOST``."""
    url = loopback_url(BIGQUERY_VAR, url, "BigQuery")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url}
    )
