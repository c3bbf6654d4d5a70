"""``python -m gembatch.emulator serve [--port] [--state-dir] [--speed] [--profile]`` (foreground)."""

from __future__ import annotations

import sys

from gembatch.cli import main

if __name__ == "__main__":
    sys.exit(main(["emulator", *sys.argv[1:]]))
