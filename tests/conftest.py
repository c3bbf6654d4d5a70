"""Shared pytest fixtures."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

# The SDK's httpx2 transport honours proxy variables even for loopback.
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("no_proxy", "127.0.0.1,localhost")
# Tests never reach the real service: a key in the developer's environment must not leak in.
for _var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"):
    os.environ.pop(_var, None)
# Limits learned from 429s during tests must not reach the developer's config directory (or come
# from it); tests of learning point GEMBATCH_LIMITS_FILE at tmp_path themselves.
os.environ["GEMBATCH_LIMITS_FILE"] = "off"
# Answers cached by tests never reach the developer's cache directory: module- and session-scoped
# fixtures share this one, each test gets its own below.
os.environ["GEMBATCH_CACHE_DIR"] = _SESSION_CACHE = tempfile.mkdtemp(prefix="gembatch-test-cache-")
atexit.register(shutil.rmtree, _SESSION_CACHE, True)


@pytest.fixture(autouse=True)
def _own_response_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets an empty response cache of its own (subprocesses inherit it): no answer cached
    by one test, or by the developer's own runs, can change what another test sends."""
    monkeypatch.setenv("GEMBATCH_CACHE_DIR", str(tmp_path_factory.mktemp("response-cache")))
