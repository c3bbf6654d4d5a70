"""The admin view (not part of the Gemini surface): stats, one-shot faults, the clock."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gembatch.emulator._clock import rfc3339
from gembatch.emulator._faults import Fault
from gembatch.emulator._reply import Reply
from gembatch.errors import CatalogError

__all__ = ["ADMIN_PREFIX", "handle_admin", "inject", "stats"]

ADMIN_PREFIX = "/emulator/v1/"


def stats(app: Any) -> dict[str, Any]:
    """Everything the admin ``stats`` endpoint returns."""
    app.batches.advance()
    out = app.stats.snapshot()
    quota: dict[str, int] = {}
    for model in app.config.catalog.ids():
        try:
            quota[model] = app.config.catalog.get(model).enqueued_limit(app.config.tier)
        except CatalogError:
            quota[model] = 0
    now = app.clock.now()
    out.update(
        quota=quota,
        jobs=app.batches.counts(),
        files={"count": len(app.files.records()), "bytes": app.files.used_bytes()},
        clock={"emulated_seconds": now, "now": rfc3339(now), "speed": app.clock.speed},
        tier=app.config.tier,
        profile=app.config.profile.name,
        pending_faults=app.faults.pending(),
        base_url=app.base_url,
    )
    return out


def inject(app: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Register a one-shot fault; a ``batch`` outcome applies to live jobs first, then new ones."""
    fault = Fault.from_dict(dict(spec))
    applied = 0
    if fault.op == "batch" and fault.display_name and fault.outcome:
        applied = app.batches.force_outcome(fault.display_name, fault.outcome, fault.count)
        fault.count -= applied
    if fault.count > 0:
        app.faults.add(fault)
    return {"fault": fault.to_dict() | {"count": fault.count}, "applied_to_existing": applied}


def handle_admin(app: Any, method: str, path: str, body: bytes) -> Reply:
    what = path.removeprefix(ADMIN_PREFIX).strip("/")
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        return Reply.json({"error": "body must be JSON"}, 400)
    try:
        if what == "stats" and method == "GET":
            return Reply.json(stats(app))
        if what == "health":
            return Reply.json({"ok": True})
        if what == "faults":
            if method == "GET":
                return Reply.json({"faults": app.faults.pending()})
            if method == "DELETE":
                app.faults.clear()
                return Reply.json({"faults": []})
            if method == "POST":
                specs = data if isinstance(data, list) else [data]
                return Reply.json({"injected": [inject(app, s) for s in specs]})
        if what == "clock":
            if method == "POST":
                if "speed" in data:
                    app.clock.set_speed(float(data["speed"]))
                if "advance_seconds" in data:
                    app.clock.advance(float(data["advance_seconds"]))
                app.save_clock()
                app.batches.advance()
            now = app.clock.now()
            return Reply.json({"emulated_seconds": now, "now": rfc3339(now), "speed": app.clock.speed})
    except (TypeError, ValueError) as exc:
        return Reply.json({"error": str(exc)}, 400)
    return Reply.json({"error": f"no admin endpoint {method} {path}"}, 404)
