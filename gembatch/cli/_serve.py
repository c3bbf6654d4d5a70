"""CLI: ``gembatch serve`` starts the REST API (uvicorn) on 127.0.0.1."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="serve the REST API (bearer token from GEMBATCH_SERVER_TOKEN)")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--runs-dir", default="runs", help="directory of the server's runs (default runs/)")
    serve.add_argument("--no-resume", action="store_true", help="do not restart unfinished runs at start")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gembatch.server import TOKEN_ENV, create_app, resolve_token

    token, generated = resolve_token()
    if generated:
        # Printed once, to the terminal that started the server; never logged or stored.
        print(f"gembatch serve: no {TOKEN_ENV} set; this session's token is: {token}", file=sys.stderr)
    app = create_app(args.runs_dir, token=token, resume=not args.no_resume)
    print(f"gembatch serve: http://{args.host}:{args.port}  (docs at /docs)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
