"""Test-only crash points: ``GEMBATCH_TEST_CRASH_AT=<point>`` makes the process SIGKILL itself there.

Used by the crash-safety tests to prove a run survives being killed at the worst moments. Points:
``upload`` (mid-upload), ``uploaded`` (the upload answered, its name not yet recorded), ``intent``
(intent committed, before create), ``create`` (create returned, not yet recorded), ``download``
(output downloaded, not parsed), ``collect`` (results written inside the collection transaction,
not committed), ``collected`` (collection committed, output file and job not yet deleted),
``delete`` (a delete done at the service, not yet recorded). Never set it outside tests.
"""

from __future__ import annotations

import os
import signal

__all__ = ["POINTS", "crash_point"]

POINTS = ("upload", "uploaded", "intent", "create", "download", "collect", "collected", "delete")


def crash_point(name: str) -> None:
    """SIGKILL this process if ``GEMBATCH_TEST_CRASH_AT`` names ``name`` (no cleanup runs, as in a crash)."""
    if os.environ.get("GEMBATCH_TEST_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
