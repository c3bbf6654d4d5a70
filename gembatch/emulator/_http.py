"""The HTTP/1.1 server: stdlib ThreadingHTTPServer (keep-alive; gzip and chunked streams as asked)."""

from __future__ import annotations

import contextlib
import logging
import shutil
import socket
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["EmulatorHTTPServer"]

logger = logging.getLogger("gembatch.emulator.http")

_MAX_BODY = 1 << 30  # larger bodies are refused and the connection closed


class _Headers(dict[str, str]):
    """Request headers with case-insensitive ``get``."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: EmulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every reply on a keep-alive connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = _Headers((k.lower(), v) for k, v in self.headers.items())
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            self.send_error(413, "Request body too large")
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        reply = self.server.app.handle(method, unquote(url.path), query, headers, body)
        if reply.disconnect:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        gzip_ok = "gzip" in (headers.get("accept-encoding") or "").lower()
        if reply.chunks is not None:
            self._send_chunks(reply.chunks, gzip_ok)
            return
        if gzip_ok and isinstance(reply.body, bytes) and reply.body:
            # As the service does for a client that accepts it (the SDK's httpx sends gzip, deflate).
            packer = zlib.compressobj(1, zlib.DEFLATED, 31)
            data = packer.compress(reply.body) + packer.flush()
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Origin, X-Origin, Referer")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if isinstance(reply.body, Path):
            size = reply.body.stat().st_size
            self.send_header("Content-Length", str(size))
            self.end_headers()
            with reply.body.open("rb") as fh:
                shutil.copyfileobj(fh, self.wfile, 1 << 20)
        else:
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

    def _send_chunks(self, chunks: list[bytes], gzip_ok: bool) -> None:
        """A streamed reply: one HTTP chunk per piece, flushed at once (gzip-flushed when accepted)."""
        packer = zlib.compressobj(1, zlib.DEFLATED, 31) if gzip_ok else None
        if packer is not None:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for piece in chunks:
            data = packer.compress(piece) + packer.flush(zlib.Z_SYNC_FLUSH) if packer else piece
            if data:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.flush()
        if packer is not None:
            tail = packer.flush()
            if tail:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(tail), tail))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Binds 127.0.0.1; one thread per connection, daemonic."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        super().__init__((host, port), _Handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])
