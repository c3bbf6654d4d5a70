"""Choosing a backend: gb.connect, the registry, the emulator's own registration (never the real service)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from emulator_helpers import MODEL, request

import gembatch as gb
from gembatch.emulator import running
from gembatch.errors import BackendError
from gembatch.transport import connect as backend

SECRET = "AIzaSy-test-secret-key-do-not-print"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMBATCH_EMULATOR_URL", "GOOGLE_GEMINI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout


def _options(client: object) -> object:
    return client._api_client._http_options  # type: ignore[attr-defined]


def test_key_in_environment_selects_the_real_service(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    with caplog.at_level(logging.INFO, logger="gembatch.transport.connect"):
        client = gb.connect()
    assert not gb.is_emulator(client)
    opts = _options(client)
    assert opts.api_version == "v1beta"  # type: ignore[attr-defined]
    assert "generativelanguage.googleapis.com" in (opts.base_url or "")  # type: ignore[attr-defined]
    assert client._api_client.api_key == SECRET  # the key is handed to the SDK ...
    text = gb.describe(client) + repr(client) + repr(backend.as_transport(client)) + caplog.text
    assert SECRET not in text  # ... and appears in no description or log line
    assert "Gemini API at https://generativelanguage.googleapis.com" in gb.describe(client)


def test_google_api_key_and_dotenv_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", SECRET)
    assert not backend.is_emulator(backend.connect())
    monkeypatch.delenv("GOOGLE_API_KEY")
    (tmp_path / ".env").write_text(f"GEMINI_API_KEY={SECRET}\n")
    client = backend.connect()
    assert client._api_client.api_key == SECRET
    import os

    assert "GEMINI_API_KEY" not in os.environ  # read, not exported


def test_explicit_key_and_base_url_and_bad_prefer() -> None:
    client = backend.connect("explicit-key", base_url="https://proxy.example.com/")
    assert client._api_client.api_key == "explicit-key"
    assert _options(client).base_url == "https://proxy.example.com/"  # type: ignore[attr-defined]
    assert backend.describe(client) == "Gemini API at https://proxy.example.com (v1beta)"
    with pytest.raises(BackendError, match="prefer"):
        backend.connect(prefer="cloud")  # type: ignore[arg-type]


def test_prefer_real_without_key_explains_the_fix() -> None:
    with pytest.raises(BackendError, match="GEMINI_API_KEY"):
        backend.connect(prefer="real")


def test_emulator_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with running() as emu:
        monkeypatch.setenv("GEMBATCH_EMULATOR_URL", emu.base_url)
        client = backend.connect()
        assert backend.is_emulator(client)
        assert backend.describe(client).startswith(f"Gemini emulator at {emu.base_url}")
        job = client.batches.create(model=MODEL, src=[request("via env")])
        assert job.name is not None
        transport = backend.as_transport(client)
        assert transport.name == "emulator"
        assert transport.get(job.name).stats["requestCount"] == 1  # batchStats, which the SDK drops
        assert [b.name for b in transport.list_jobs()] == [job.name]
        with pytest.raises(BackendError, match="batches/"):
            transport.get(job.name.removeprefix("batches/"))


def test_no_key_starts_one_in_process_emulator_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", SECRET)
    ignored = backend.connect(prefer="emulator")  # prefer wins over a key
    assert backend.is_emulator(ignored)
    monkeypatch.delenv("GEMINI_API_KEY")
    with caplog.at_level(logging.INFO, logger="gembatch.transport.connect"):
        first = backend.connect()
    assert "results are emulated" in caplog.text
    second = backend.connect()
    assert backend.is_emulator(first)
    assert _options(first).base_url == _options(second).base_url  # type: ignore[attr-defined]
    assert _options(first).api_version == "v1beta"  # type: ignore[attr-defined]
    assert first.models.count_tokens(model=MODEL, contents="hello").total_tokens == 1
    assert backend.local_emulator() is backend.local_emulator()
    assert backend.local_emulator().base_url == _options(first).base_url  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert out.count("emulated") <= 1  # one plain line per process, not one per call
    assert SECRET not in out


def test_backends_come_from_a_registry_and_the_emulator_registers_itself() -> None:
    from gembatch.transport import registry

    assert {"gemini", "emulator", "vertex"} <= set(registry.backend_names())  # emulator: entry point
    with pytest.raises(BackendError, match=r"no gembatch backend named 'nowhere'.*emulator"):
        registry.get_backend("nowhere")
    seen: list[dict[str, object]] = []
    fake = backend.local_emulator()

    def factory(**options: object) -> object:
        seen.append(options)
        return fake

    registry.register_backend("test-only", factory)  # type: ignore[arg-type]
    assert registry.get_backend("test-only", speed=3) is fake
    assert seen == [{"speed": 3}]


def test_poll_timings_come_from_the_backend() -> None:
    emulated = backend.local_emulator()
    assert emulated.emulated
    assert emulated.timings.poll_max_s < 5
    real = backend.as_transport(backend.connect("a-key"))
    assert real.name == "gemini"
    assert not real.emulated
    assert (real.timings.poll_min_s, real.timings.reconcile_grace_s) == (5.0, 60.0)
    assert backend.as_transport(real) is real  # a transport passes through unchanged


def test_library_never_imports_the_emulator() -> None:
    import ast

    root = Path(__file__).resolve().parents[1] / "gembatch"
    for path in root.rglob("*.py"):
        if "emulator" in path.relative_to(root).parts[0] or (
            path.name == "__init__.py" and path.parent == root
        ):
            continue  # the emulator itself; the package front re-exports gb.emulator
        if path.relative_to(root).parts[0] in ("cli", "runbook.py", "server"):
            continue  # faces may start an emulator for the user
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("gembatch.emulator"), f"{path} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("gembatch.emulator") for a in node.names), path
