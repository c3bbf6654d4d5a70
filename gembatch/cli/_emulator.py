"""``gembatch emulator start|stop|status|serve``: the Gemini emulator as its own process."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "speed": args.speed,
        "profile": args.profile,
        "tier": args.tier,
        "seed": args.seed,
        "api_keys": args.api_key or None,
        "vertex": bool(getattr(args, "vertex", False)),
    }


def admin_stats(base_url: str) -> dict[str, Any]:
    """The emulator's admin stats, or {} when it does not answer."""
    import json
    import urllib.request

    try:
        with urllib.request.urlopen(f"{base_url}/emulator/v1/stats", timeout=5) as resp:
            data = json.loads(resp.read())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _state_dir(args: argparse.Namespace) -> Path:
    from gembatch.emulator._process import default_state_dir

    return Path(args.state_dir) if args.state_dir else default_state_dir()


def _start(args: argparse.Namespace) -> int:
    from gembatch.emulator._process import start

    info = start(_state_dir(args), port=args.port, **_options(args))
    print(f"emulator running: pid {info['pid']} port {info['port']} base_url {info['base_url']}")
    print(f"use it with: GEMBATCH_EMULATOR_URL={info['base_url']}")
    _print_vertex(info)
    return 0


def _print_vertex(info: dict[str, Any]) -> None:
    """The Cloud Storage and BigQuery stand-ins a ``--vertex`` emulator started, if any."""
    if info.get("storage_url"):
        print(
            f"Vertex: STORAGE_EMULATOR_HOST={info['storage_url']}, project {info['vertex_project']}, "
            f"location {info['vertex_location']}, bucket {info['vertex_bucket']} "
            '(gb.connect(backend="vertex-emulator") finds them from these two variables)'
        )
    if info.get("bigquery_url"):
        print(f"Vertex: BIGQUERY_EMULATOR_HOST={info['bigquery_url']} (BigQuery input and output tables)")


def _vertex_info(state_dir: Path) -> dict[str, Any]:
    """What a ``--vertex`` emulator wrote about its stand-ins (``vertex.json``), or {}."""
    import json

    try:
        data = json.loads((state_dir / "vertex.json").read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _stop(args: argparse.Namespace) -> int:
    from gembatch.emulator._process import stop

    stopped = stop(_state_dir(args))
    print("emulator stopped" if stopped else "emulator was not running")
    return 0


def _status(args: argparse.Namespace) -> int:
    from gembatch.emulator._process import status

    info = status(_state_dir(args))
    if info is None:
        print(f"emulator not running (state dir {_state_dir(args)})")
        return 1
    print(f"emulator running: pid {info['pid']} port {info['port']} base_url {info['base_url']}")
    stats = admin_stats(str(info["base_url"]))
    if stats:
        jobs = ", ".join(f"{k.lower()} {v}" for k, v in sorted(stats.get("jobs", {}).items())) or "none"
        print(
            f"speed {stats['clock']['speed']:g}, profile {stats['profile']}, tier {stats['tier']}, "
            f"emulated time {stats['clock']['now']}, jobs: {jobs}"
        )
    _print_vertex(_vertex_info(_state_dir(args)))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from gembatch.emulator._process import serve_from_options

    return serve_from_options(_state_dir(args), args.port, _options(args))


def register(subparsers: Any) -> None:
    """Add the ``emulator`` command group."""
    parser = subparsers.add_parser(
        "emulator",
        help="run the local Gemini API emulator",
        description="A local server speaking the Gemini REST API; results are emulated, not from Gemini.",
    )
    sub = parser.add_subparsers(dest="emulator_command", metavar="ACTION")
    sub.required = True
    for name, func, text in (
        ("start", _start, "start in the background and wait until it answers"),
        ("stop", _stop, "stop the background emulator"),
        ("status", _status, "print pid, port and base URL (exit 1 when not running)"),
        ("serve", _serve, "serve in the foreground until Ctrl-C"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--state-dir", help="where jobs, files and the clock live (default ~/.gembatch/emulator)"
        )
        cmd.set_defaults(func=func)
        if name in ("start", "serve"):
            cmd.add_argument(
                "--port", type=int, default=None, help="port on 127.0.0.1 (default: last one, else free)"
            )
            cmd.add_argument(
                "--speed", type=float, default=None, help="emulated seconds per real second (600)"
            )
            cmd.add_argument("--profile", default=None, help="calm | realistic | chaos | path to TOML/JSON")
            cmd.add_argument("--tier", default=None, help="quota tier: tier1 | tier2 | tier3 (tier1)")
            cmd.add_argument("--seed", type=int, default=None, help="seed of latencies and faults (0)")
            cmd.add_argument(
                "--vertex",
                action="store_true",
                help="also serve Vertex AI batch prediction, with a Cloud Storage stand-in (fake-gcs-server)",
            )
            cmd.add_argument(
                "--api-key",
                action="append",
                default=[],
                help="accept only this key (repeatable; default any)",
            )
