"""The engine's Python logging: every event a run records also goes to the ``gembatch`` logger.

Levels: errors, refusals and back-offs are WARNING; submissions, finished jobs and collections
are INFO; the rest DEBUG. Messages carry the run directory's name and the chunk, never a key
(events never hold one). :func:`plain_problem` turns a transport error into words a user can act on.

>>> plain_problem("transient_error: submit: ConnectError: [Errno 111] Connection refused")[:63]
'cannot reach the service: connection refused — proxy settings? '
"""

from __future__ import annotations

import logging
import re

__all__ = ["LOGGER_NAME", "log_event", "logger", "plain_problem"]

LOGGER_NAME = "gembatch"
logger = logging.getLogger(LOGGER_NAME)
logger.addHandler(logging.NullHandler())  # a library stays silent until the application configures logging

_INFO = frozenset({"submitted", "finished", "collected", "reconciled", "retry_chunk", "retry_failed",
                   "pause", "resume", "cancel", "budget", "realtime_start", "realtime_stop",
                   "realtime_mode", "realtime_handover", "stale", "job_missing"})  # fmt: skip
_WARN = re.compile(r"^(error|transient_error|budget_blocked|create_unknown|.*_refused|.*_failed)$")

# (pattern in an error's text, what to tell the user): the first that matches wins.
_PLAIN = (
    (re.compile(r"ProxyError|407 Proxy|proxy", re.I), "the proxy refused or failed — proxy settings?"),
    (re.compile(r"Connection refused|ConnectError|Errno 111", re.I),
     "cannot reach the service: connection refused — proxy settings?"),
    (re.compile(r"Name or service not known|getaddrinfo|nodename nor servname|failure in name", re.I),
     "cannot resolve the service's host name — offline, or DNS/proxy settings?"),
    (re.compile(r"ConnectTimeout|ReadTimeout|timed out", re.I), "the service did not answer in time"),
    (re.compile(r"\b401\b|\b403\b|API key not valid|PERMISSION_DENIED|UNAUTHENTICATED", re.I),
     "the service refused the API key (wrong key, or not allowed for this project)"),
    (re.compile(r"\b429\b|RESOURCE_EXHAUSTED", re.I), "429 quota"),
)  # fmt: skip


def plain_problem(text: str) -> str:
    """``kind: detail`` of a recorded problem as a short sentence, the detail kept in parentheses."""
    kind, _, detail = text.partition(": ")
    detail = detail or kind
    for pattern, words in _PLAIN:
        if pattern.search(detail):
            return f"{words} ({detail})"
    return text


def _level(kind: str) -> int:
    if _WARN.match(kind):
        return logging.WARNING
    return logging.INFO if kind in _INFO else logging.DEBUG


def log_event(where: str, kind: str, message: str = "", chunk_id: str | None = None) -> None:
    """Log one run event (what :meth:`RunStore.event` records) on the ``gembatch`` logger."""
    level = _level(kind)
    if not logger.isEnabledFor(level):
        return
    chunk = f" {chunk_id}" if chunk_id else ""
    text = f"{kind}: {message}" if message else kind
    if level >= logging.WARNING:
        text = plain_problem(text)
    logger.log(level, "run %s%s: %s", where, chunk, text)
