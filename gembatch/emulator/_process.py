"""The emulator as its own process: start (detached), stop, status, and serve in the foreground."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from gembatch.errors import BackendError

__all__ = ["default_state_dir", "serve_from_options", "start", "status", "stop"]

_SAVED = ("speed", "profile", "tier", "seed")


def default_state_dir() -> Path:
    """``$GEMBATCH_EMULATOR_STATE_DIR``, else ``~/.gembatch/emulator``."""
    env = os.environ.get("GEMBATCH_EMULATOR_STATE_DIR")
    return Path(env) if env else Path.home() / ".gembatch" / "emulator"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _answers(base_url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/emulator/v1/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def status(state_dir: Path) -> dict[str, Any] | None:
    """``{"pid", "port", "base_url"}`` of the emulator serving ``state_dir``, or None."""
    info = _read(state_dir / "server.json")
    if not info or not _alive(int(info.get("pid", 0))) or not _answers(str(info.get("base_url"))):
        return None
    return info


def serve_from_options(state_dir: Path, port: int | None, options: dict[str, Any]) -> int:
    """Serve in the foreground; options left None come from the last run in ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    saved = _read(state_dir / "config.json")
    merged = {k: options.get(k) if options.get(k) is not None else saved.get(k) for k in _SAVED}
    kept = {k: v for k, v in merged.items() if v is not None}
    if port is None:
        port = int(saved.get("port") or 0)
        if port and not _port_free(port):
            port = 0
    kwargs = dict(kept)
    if options.get("api_keys"):
        kwargs["api_keys"] = options["api_keys"]
    if options.get("vertex"):
        from gembatch.emulator._vertex_backend import serve_storage

        return serve_storage(state_dir, lambda: _serve_now(state_dir, port, kept, kwargs))
    return _serve_now(state_dir, port, kept, kwargs)


def _serve_now(state_dir: Path, port: int, kept: dict[str, Any], kwargs: dict[str, Any]) -> int:
    from gembatch.emulator._server import serve

    def remember_port(emu: Any) -> None:
        # The next start reuses this port, so base URLs saved by clients keep working.
        (state_dir / "config.json").write_text(json.dumps({**kept, "port": emu.port}), "utf-8")

    return serve(state_dir=state_dir, port=port, on_start=remember_port, **kwargs)


def start(
    state_dir: Path, *, port: int | None = None, timeout: float = 30.0, **options: Any
) -> dict[str, Any]:
    """Start a detached emulator process for ``state_dir`` and wait until it answers."""
    running = status(state_dir)
    if running:
        return {**running, **_read(state_dir / "vertex.json")}
    state_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        (state_dir / "server.json").unlink()
    cmd = [sys.executable, "-m", "gembatch.emulator", "serve", "--state-dir", str(state_dir)]
    if port is not None:
        cmd += ["--port", str(port)]
    for name in _SAVED:
        if options.get(name) is not None:
            cmd += [f"--{name}", str(options[name])]
    for key in options.get("api_keys") or ():
        cmd += ["--api-key", key]
    if options.get("vertex"):
        cmd.append("--vertex")
        timeout = max(timeout, 120.0)  # the storage stand-ins start first (BigQuery takes ~10 s)
    log = (state_dir / "emulator.log").open("ab")
    proc = subprocess.Popen(
        cmd,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BackendError(
                f"the emulator exited with code {proc.returncode}; see {state_dir / 'emulator.log'}"
            )
        info = _read(state_dir / "server.json")
        if info.get("pid") == proc.pid and _answers(str(info.get("base_url")), 1.0):
            return {**info, **_read(state_dir / "vertex.json")} if options.get("vertex") else info
        time.sleep(0.05)
    proc.terminate()
    raise BackendError(f"the emulator did not answer within {timeout:g}s; see {state_dir / 'emulator.log'}")


def stop(state_dir: Path, timeout: float = 15.0) -> bool:
    """Stop the emulator serving ``state_dir``; False if none was running."""
    info = _read(state_dir / "server.json")
    pid = int(info.get("pid") or 0)
    if not pid or not _alive(pid):
        with contextlib.suppress(FileNotFoundError):
            (state_dir / "server.json").unlink()
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:  # until it exits: the storage stand-ins stop after the server
        # Reap our own child if this process started it (avoids a zombie that looks alive).
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return True
