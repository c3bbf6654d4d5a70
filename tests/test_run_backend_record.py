"""What a run records about its backend, and how the Developer-API side keeps working with it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from runs_support import FAST, articles, make_plan, small_catalog

import gembatch as gb
from gembatch.cli import main
from gembatch.emulator import running
from gembatch.errors import BackendError, InputError
from gembatch.runs.store import RunStore
from gembatch.transport.connect import connection_of, reconnect
from gembatch.transport.credentials import gemini_client
from gembatch.transport.gemini import GeminiTransport


class _Leaky(GeminiTransport):
    """A transport whose ``connection()`` offers more than may be written down."""

    def connection(self) -> dict[str, Any]:
        return {"backend": "leaky", "project": "p", "credentials": object(), "token": "t0k3n",
                "api_key": "AIzaLEAK", "location": ""}  # fmt: skip


def test_only_plain_named_facts_are_kept():
    with running(speed=20_000) as emu:
        facts = connection_of(_Leaky(emu.client()))
    assert facts == {"backend": "leaky", "project": "p"}


def test_a_run_records_its_backend_and_never_the_key(tmp_path):
    key = "AIzaSyD-SECRET-key-0042"
    arts = articles(12)
    plan = make_plan(arts, small_catalog())
    with running(speed=20_000, catalog=small_catalog()) as emu:
        with_key = GeminiTransport(gemini_client(key, emu.base_url))
        run = gb.Run.create(tmp_path / "r", arts, plan, client=with_key, **FAST)
        assert run.wait(timeout=60, progress=False)
    assert run.config.backend == {"backend": "gemini", "api_version": "v1beta", "base_url": emu.base_url}
    for path in (tmp_path / "r").rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), f"{path.name} holds the API key"


def test_an_older_run_without_a_record_reopens_as_before(tmp_path):
    arts = articles(12)
    plan = make_plan(arts, small_catalog())
    with running(speed=20_000, catalog=small_catalog()) as emu:
        run = gb.Run.create(tmp_path / "r", arts, plan, client=emu.client(), **FAST)
        assert run.config.backend["backend"] == "emulator"
        store = RunStore(tmp_path / "r" / "ledger.sqlite")
        config = store.get_meta("config")
        del config["backend"]  # as written before runs recorded their backend
        store.set_meta("config", config)
        store.close()
        again = gb.Run.open(tmp_path / "r", client=emu.client())
        assert again.config.backend == {}
        assert again.wait(timeout=60, progress=False)
        assert (again.results()["status"] == "succeeded").all()


def test_a_vertex_emulator_run_whose_emulator_is_gone_says_how_to_start_it(monkeypatch):
    for var in ("GEMBATCH_EMULATOR_URL", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(var, raising=False)
    facts = {"backend": "vertex-emulator", "project": "local", "location": "us-central1",
             "bucket": "b", "base_url": "http://127.0.0.1:9",
             "storage_url": "http://127.0.0.1:9"}  # fmt: skip
    with pytest.raises(BackendError, match=r"gembatch emulator start --vertex") as info:
        reconnect(facts)
    assert "GEMBATCH_EMULATOR_URL" in str(info.value)


def test_vertex_settings_without_a_vertex_backend_are_refused():
    with pytest.raises(InputError, match="bucket is a Vertex setting") as info:
        gb.RunRequest(inputs=["a text"], bucket="my-bucket")
    assert info.value.field == "bucket"
    with pytest.raises(InputError, match="backend must be a backend name"):
        gb.RunRequest(inputs=["a text"], backend="vertex; rm -rf")


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMBATCH_EMULATOR_URL", "STORAGE_EMULATOR_HOST"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GEMBATCH_EMULATOR_SPEED", "20000")
    monkeypatch.chdir(tmp_path)  # no .env found upwards


def test_cli_refuses_another_backend_for_a_run_dir_before_connecting(no_key, tmp_path, capsys):
    data = tmp_path / "articles.jsonl"
    gb.synthetic_articles(10, mean_chars=600).to_json(data, orient="records", lines=True)
    run_dir = tmp_path / "run"
    assert main(["run", str(data), "--run-dir", str(run_dir), "--id-col", "id", "--max-wait", "60"]) == 0
    assert gb.Run.open(run_dir).config.backend["backend"] == "emulator"
    events = len(gb.Run.open(run_dir).events())
    capsys.readouterr()

    wrong = ["--backend", "vertex-emulator"]
    code = main(["run", str(data), "--run-dir", str(run_dir), "--id-col", "id", *wrong])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert "vertex-emulator" in err[0]
    assert "emulator" in err[0].replace("vertex-emulator", "")
    assert len(gb.Run.open(run_dir).events()) == events, "nothing happened to the run"

    assert main(["run", str(data), "--run-dir", str(tmp_path / "new"), "--location", "us-central1"]) == 2
    assert "location is a Vertex setting" in capsys.readouterr().err
    assert not (tmp_path / "new" / "ledger.sqlite").exists()

    assert main(["status", str(run_dir), "--json"]) == 0  # the same run, no flags: as before
    assert json.loads(capsys.readouterr().out)["succeeded"] == 10


def test_the_submit_panel_says_which_backend_the_run_targets():
    pytest.importorskip("gembatch_widgets")
    from gembatch_widgets import SubmitPanel

    vertex = SubmitPanel(articles(5), display="widget", backend="vertex", project="p",
                         location="us-central1", bucket="b")  # fmt: skip
    assert "vertex (p/us-central1/b)" in vertex.backend_label.value
    assert re.search(r"backend\s+vertex \(p/us-central1/b\)", vertex.snapshot_text())
    assert vertex.request().backend == "vertex"
    with running(speed=20_000) as emu:
        dev = SubmitPanel(articles(5), display="widget", client=emu.client())
        assert f"Gemini emulator at {emu.base_url}" in dev.backend_label.value
