"""Fixtures for the documentation tests: a clean reader's environment and a real ``gembatch serve``."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from docsupport import BIN, reader_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def rest_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``gembatch serve`` on a free 127.0.0.1 port with a token; yields the variables the examples use."""
    home = tmp_path_factory.mktemp("server-home")
    token = secrets.token_urlsafe(16)
    port = _free_port()
    env = {**reader_env(home), "GEMBATCH_SERVER_TOKEN": token}
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "gembatch"), "serve", "--port", str(port), "--runs-dir", str(home / "runs")],
        cwd=home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.close()
            pytest.fail(f"gembatch serve did not start:\n{(home / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.2)
    try:
        yield {"GEMBATCH_URL": url, "GEMBATCH_SERVER_TOKEN": token}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
