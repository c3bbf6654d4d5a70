"""Running an emulator: in-process (a daemon thread) or in the foreground of its own process."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gembatch.emulator._admin import inject
from gembatch.emulator._admin import stats as admin_stats
from gembatch.emulator._app import App, Config
from gembatch.emulator._clock import register_live
from gembatch.emulator._faults import Profile, load_profile
from gembatch.emulator._http import EmulatorHTTPServer
from gembatch.emulator._persist import write_json
from gembatch.errors import BackendError
from gembatch.planning.catalog import Catalog

if TYPE_CHECKING:
    from google import genai

__all__ = ["Emulator", "running", "serve"]

logger = logging.getLogger("gembatch.emulator")


class Emulator:
    """A Gemini API emulator on ``http://127.0.0.1:<port>``, serving from a daemon thread.

    Parameters
    ----------
    speed
        Emulated seconds per real second (600: one real second is ten emulated minutes).
    profile
        ``"calm"`` (no faults), ``"realistic"``, ``"chaos"``, a dict, or a TOML/JSON file path.
    tier
        Quota tier for the enqueued-token and RPM/TPM limits (``"tier1"``...).
    seed
        Seed of job latencies, per-line errors and random faults.
    state_dir
        Where jobs, files and the clock live; ``None`` uses a temporary directory removed on stop.
    port
        0 picks a free port.
    api_keys
        Accepted keys; ``None`` accepts any non-empty key. A mapping ``{key: project}`` also puts
        each key in a project: files and batches are seen, and quotas counted, per project.
    catalog
        Models, prices and limits; default :func:`gembatch.default_catalog`.

    Examples
    --------
    >>> with running(speed=600) as emu:  # doctest: +SKIP
    ...     client = emu.client()
    ...     client.models.count_tokens(model="gemini-2.5-flash", contents="hi").total_tokens
    1
    """

    def __init__(
        self,
        *,
        speed: float = 600.0,
        profile: str | os.PathLike[str] | Mapping[str, Any] | Profile | None = "calm",
        tier: str = "tier1",
        seed: int = 0,
        state_dir: str | os.PathLike[str] | None = None,
        port: int = 0,
        api_keys: Iterable[str] | Mapping[str, str] | None = None,
        catalog: Catalog | None = None,
    ):
        self._tmp = None if state_dir is not None else tempfile.mkdtemp(prefix="gembatch-emulator-")
        self.state_dir = Path(state_dir if state_dir is not None else self._tmp)  # type: ignore[arg-type]
        config = Config(
            speed=float(speed),
            profile=load_profile(dict(profile) if isinstance(profile, Mapping) else profile),
            tier=tier,
            seed=int(seed),
            api_keys=frozenset(api_keys) if api_keys is not None else None,
            catalog=catalog,
            projects=dict(api_keys) if isinstance(api_keys, Mapping) else {},
        )
        self._lock_file = _lock_state_dir(self.state_dir)
        try:
            self.app = App(config, self.state_dir)
        except BaseException:
            self._lock_file.close()
            raise
        self._port = port
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._clients: dict[tuple[str, str, str], genai.Client] = {}

    @property
    def base_url(self) -> str:
        return self.app.base_url

    @property
    def port(self) -> int:
        return self._server.port if self._server else 0

    def start(self) -> Emulator:
        """Bind the port and serve from a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._server = EmulatorHTTPServer(self.app, "127.0.0.1", self._port)
        self.app.base_url = f"http://127.0.0.1:{self._server.port}"
        self.app.start()
        register_live(self.app.base_url, self.app.clock)  # clients read job ages on this clock
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="gembatch-emulator",
            daemon=True,
        )
        self._thread.start()
        logger.info("gembatch emulator serving at %s (state in %s)", self.base_url, self.state_dir)
        return self

    def stop(self) -> None:
        """Stop serving, save the clock, and remove a temporary state directory."""
        if self._server is not None:
            register_live(self.app.base_url, None)
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.app.stop()
        self._lock_file.close()  # releases the state directory's lock
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._server else "stopped"
        cfg = self.app.config
        return (
            f"<Emulator {state} {self.base_url or '-'} speed={self.app.clock.speed:g} "
            f"profile={cfg.profile.name} tier={cfg.tier}>"
        )

    def client(self, api_key: str = "emulator", **http_options: Any) -> genai.Client:
        """A ``google.genai.Client`` pointed at this emulator (API version v1beta).

        Clients are cached per key and options: the SDK closes its connection pool when a client
        is garbage-collected, which breaks chained calls like ``emu.client().models...``.
        """
        from google import genai
        from google.genai import types

        cache_key = (api_key, self.base_url, repr(sorted(http_options.items())))
        client = self._clients.get(cache_key)
        if client is None:
            from gembatch.transport.credentials import loopback_http_args

            merged: dict[str, Any] = {**http_options}
            for name, args in loopback_http_args(self.base_url).items():  # no proxy for 127.0.0.1
                merged[name] = {**args, **(http_options.get(name) or {})}
            options = types.HttpOptions(base_url=self.base_url, api_version="v1beta", **merged)
            client = self._clients[cache_key] = genai.Client(api_key=api_key, http_options=options)
        return client

    def stats(self) -> dict[str, Any]:
        """The admin statistics (as ``GET /emulator/v1/stats``)."""
        return admin_stats(self.app)

    def inject_fault(self, op: str, **spec: Any) -> dict[str, Any]:
        """A one-shot fault, as ``POST /emulator/v1/faults``.

        ``inject_fault("batches.create", status=429)``,
        ``inject_fault("batches.create", drop_response=True)``,
        ``inject_fault("batch", display_name="x", outcome="FAILED")``.
        """
        return inject(self.app, {"op": op, **spec})

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def advance(self, seconds: float) -> float:
        """Move emulated time forward by ``seconds``; returns the emulated UNIX time."""
        now = self.app.clock.advance(seconds)
        self.app.save_clock()
        self.app.batches.advance()
        return now


def _lock_state_dir(state_dir: Path) -> IO[str]:
    """Hold an exclusive lock on ``state_dir``: two emulators must never share one."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / ".lock").open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise BackendError(
            f"emulator state directory {state_dir} is in use by another running emulator; stop it "
            f"(gembatch emulator stop --state-dir {state_dir}) or use another state directory"
        ) from None
    return handle


@contextlib.contextmanager
def running(
    *,
    speed: float = 600.0,
    profile: str | os.PathLike[str] | Mapping[str, Any] | Profile | None = "calm",
    tier: str = "tier1",
    seed: int = 0,
    state_dir: str | os.PathLike[str] | None = None,
    port: int = 0,
    api_keys: Iterable[str] | Mapping[str, str] | None = None,
    catalog: Catalog | None = None,
) -> Iterator[Emulator]:
    """Run an in-process emulator for the duration of a ``with`` block.

    Examples
    --------
    >>> import gembatch as gb
    >>> with gb.emulator.running(speed=600, profile="calm") as emu:  # doctest: +SKIP
    ...     batch = emu.client().batches.get(name="batches/...")
    """
    emu = Emulator(
        speed=speed,
        profile=profile,
        tier=tier,
        seed=seed,
        state_dir=state_dir,
        port=port,
        api_keys=api_keys,
        catalog=catalog,
    )
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def serve(
    *,
    state_dir: str | os.PathLike[str],
    port: int = 0,
    on_start: Callable[[Emulator], None] | None = None,
    **options: Any,
) -> int:
    """Serve in the foreground until SIGTERM/SIGINT; writes ``server.json`` into ``state_dir``."""
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    emu = Emulator(state_dir=state, port=port, **options).start()
    info = {"pid": os.getpid(), "port": emu.port, "base_url": emu.base_url}
    write_json(state / "server.json", info)
    if on_start is not None:
        on_start(emu)
    print(f"gembatch emulator serving at {emu.base_url} (state: {state}); results are emulated", flush=True)
    done = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emu.stop()
        with contextlib.suppress(FileNotFoundError):
            (state / "server.json").unlink()
    return 0
