"""One emulator instance: configuration, state directory and the services it wires together."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from gembatch.emulator._admin import ADMIN_PREFIX, handle_admin
from gembatch.emulator._api import GeminiApi
from gembatch.emulator._batches import BatchService
from gembatch.emulator._clock import Clock
from gembatch.emulator._errors import ApiError
from gembatch.emulator._faults import FaultBook, Profile
from gembatch.emulator._files import FileStore
from gembatch.emulator._limits import RateLimiter
from gembatch.emulator._persist import read_json, write_json
from gembatch.emulator._reply import Call, Reply
from gembatch.emulator._routes import html_not_found, route
from gembatch.emulator._stats import Stats
from gembatch.emulator._vertex import VertexApi, is_vertex_path
from gembatch.emulator._vertex_bq import local_bigquery
from gembatch.emulator._vertex_gcs import local_storage
from gembatch.planning.catalog import Catalog, default_catalog

__all__ = ["App", "Config"]

logger = logging.getLogger("gembatch.emulator")


@dataclass(frozen=True)
class Config:
    """How an emulator behaves; ``api_keys=None`` accepts any non-empty key.

    ``projects`` maps a key to its project: files and batches are visible, and quotas counted,
    per project, as on the service. Keys it does not name share the project ``default``.
    """

    speed: float = 600.0
    profile: Profile = field(default_factory=Profile)
    tier: str = "tier1"
    seed: int = 0
    api_keys: frozenset[str] | None = None
    catalog: Catalog | None = None
    projects: Mapping[str, str] = field(default_factory=dict)

    @property
    def models(self) -> Catalog:
        return self.catalog or default_catalog()

    def project_of(self, key: str | None) -> str:
        return self.projects.get(key or "", "default")


class App:
    """Services of one emulator, and the entry point the HTTP server calls for every request."""

    def __init__(self, config: Config, state_dir: Path):
        catalog = config.models
        self.config = replace(config, catalog=catalog)
        self.state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        clock_path = state_dir / "clock.json"
        self.clock = (
            Clock.from_dict(read_json(clock_path), config.speed)
            if clock_path.exists()
            else Clock(config.speed)
        )
        self.save_clock()
        infos = [catalog.get(m) for m in catalog.ids()]
        self.files = FileStore(
            state_dir / "files",
            file_limit=min((i.file_limit_bytes for i in infos), default=2_000_000_000),
            storage_limit=min((i.file_storage_bytes for i in infos), default=20_000_000_000),
        )
        self.stats = Stats()
        self.faults = FaultBook()
        self.limiter = RateLimiter(catalog, config.tier, window_s=lambda: self.config.profile.rate_window_s)
        self.batches = BatchService(
            state_dir / "batches",
            files=self.files,
            clock=self.clock,
            catalog=catalog,
            tier=config.tier,
            profile=config.profile,
            seed=config.seed,
            faults=self.faults,
            stats=self.stats,
            own_host=lambda: urlsplit(self.base_url).netloc,
        )
        self.api = GeminiApi(self)
        self.vertex = VertexApi(self, storage=local_storage, bigquery=local_bigquery)
        self.base_url = ""

    def save_clock(self) -> None:
        write_json(self.state_dir / "clock.json", self.clock.to_dict())

    def start(self) -> None:
        self.batches.start()

    def stop(self) -> None:
        self.vertex.stop()
        self.batches.stop()
        self.save_clock()

    def handle(
        self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Answer one HTTP request (never raises)."""
        try:
            if path.startswith(ADMIN_PREFIX):
                return handle_admin(self, method, path, body)
            found = route(method, path, query)
            if found is None and is_vertex_path(path):
                self.stats.request("vertex")
                reply = self.vertex.handle(method, path, query, headers, body)
            elif found is None:
                # No route of the service: its front end answers an HTML page, not an API error.
                self.stats.request("unknown")
                reply = Reply(404, html_not_found(path), content_type="text/html; charset=UTF-8")
            else:
                self.stats.request(found.op)
                reply = self.api.handle(Call(found, query, headers, body))
        except Exception as exc:  # a bug must answer 500, not hang the client
            logger.exception("emulator: %s %s failed", method, path)
            reply = Reply(500, ApiError(500, f"emulator error: {type(exc).__name__}: {exc}").body())
        if path.lower().startswith("/upload/") and reply.status != 200:
            # Without this header the SDK re-sends an upload chunk three times, sleeping 7 s in all.
            reply.headers.setdefault("X-Goog-Upload-Status", "final")
        self.stats.status(reply.status)
        return reply
