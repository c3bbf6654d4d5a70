"""Files API through the real google-genai SDK: resumable upload, get, list, delete, download."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator

import pytest
from emulator_helpers import raw
from google.genai import errors

from gembatch import load_catalog
from gembatch.emulator import Emulator, running


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with running(speed=600) as emulator:
        yield emulator


def test_small_upload_get_download_delete(emu: Emulator) -> None:
    client = emu.client()
    data = b'{"key":"a","request":{"contents":[{"parts":[{"text":"hi"}]}]}}\n'
    f = client.files.upload(
        file=io.BytesIO(data), config={"mime_type": "application/jsonl", "display_name": "in"}
    )
    assert f.name is not None
    assert f.name.startswith("files/")
    assert f.size_bytes == len(data)
    assert f.display_name == "in"
    assert f.state is not None
    assert f.state.name == "ACTIVE"
    got = client.files.get(name=f.name)
    assert got.sha256_hash == f.sha256_hash
    assert client.files.download(file=f.name) == data
    # The docs' curl form with the /download/ prefix serves the same bytes.
    assert raw(emu, "GET", f"/download/v1beta/{f.name}:download?alt=media").content == data
    client.files.delete(name=f.name)
    with pytest.raises(errors.ClientError) as info:
        client.files.get(name=f.name)
    # The service does not tell a deleted file from someone else's: 403, not 404.
    assert info.value.code == 403
    assert info.value.status == "PERMISSION_DENIED"
    file_id = f.name.removeprefix("files/")
    assert info.value.message == (
        f"You do not have permission to access the File {file_id} or it may not exist."
    )


def test_upload_over_8_mib_goes_in_chunks(emu: Emulator, tmp_path) -> None:
    path = tmp_path / "big.jsonl"
    payload = os.urandom(9 * 1024 * 1024 + 123)
    path.write_bytes(payload)
    client = emu.client()
    before = emu.stats()["requests"].get("files.upload_chunk", 0)
    f = client.files.upload(file=str(path), config={"mime_type": "application/jsonl"})
    assert f.size_bytes == len(payload)
    assert f.name is not None
    assert emu.stats()["requests"]["files.upload_chunk"] - before == 2
    assert client.files.download(file=f.name) == payload


def test_async_upload_and_get(emu: Emulator) -> None:
    client = emu.client()

    async def go() -> tuple[str, int]:
        aio = client.aio
        f = await aio.files.upload(file=io.BytesIO(b"x" * 1000), config={"mime_type": "text/plain"})
        assert f.name is not None
        got = await aio.files.get(name=f.name)
        return got.name or "", got.size_bytes or 0

    name, size = asyncio.run(go())
    assert name.startswith("files/")
    assert size == 1000


def test_list_files_over_several_pages(emu: Emulator) -> None:
    client = emu.client()
    names = {
        client.files.upload(file=io.BytesIO(b"abc"), config={"mime_type": "text/plain"}).name
        for _ in range(5)
    }
    listed = {f.name for f in client.files.list(config={"page_size": 2})}
    assert names <= listed


def test_file_over_2_gb_is_refused(emu: Emulator, tmp_path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as fh:  # sparse: no disk used, but the declared size is > 2 GB
        fh.truncate(2_000_000_001)
    client = emu.client()
    with pytest.raises(errors.ClientError) as info:
        client.files.upload(file=str(path), config={"mime_type": "application/jsonl"})
    assert info.value.code == 400
    assert info.value.status == "INVALID_ARGUMENT"
    assert "size" in (info.value.message or "")


def test_storage_quota_gives_429() -> None:
    catalog = load_catalog({m: {"file_storage_bytes": 10_000} for m in load_catalog().ids()})
    with running(catalog=catalog) as emu:
        client = emu.client()
        client.files.upload(file=io.BytesIO(b"x" * 8000), config={"mime_type": "text/plain"})
        with pytest.raises(errors.ClientError) as info:
            client.files.upload(file=io.BytesIO(b"x" * 8000), config={"mime_type": "text/plain"})
        assert info.value.code == 429
        assert info.value.status == "RESOURCE_EXHAUSTED"


def test_upload_chunk_errors_fail_fast_with_upload_status(emu: Emulator) -> None:
    reply = raw(
        emu,
        "POST",
        "/upload/v1beta/files?upload_id=nope&upload_protocol=resumable",
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0"},
        content=b"x",
    )
    assert reply.status_code == 404
    assert reply.headers["x-goog-upload-status"] == "final"


def test_files_expire_after_48_emulated_hours() -> None:
    with running(speed=60) as emu:
        client = emu.client()
        f = client.files.upload(file=io.BytesIO(b"abc"), config={"mime_type": "text/plain"})
        assert f.name is not None
        assert f.expiration_time is not None
        assert f.create_time is not None
        assert (f.expiration_time - f.create_time).total_seconds() == 48 * 3600
        emu.advance(47 * 3600)
        client.files.get(name=f.name)
        emu.advance(2 * 3600)
        emu.app.files.expire(emu.app.clock.now())  # the clock thread does this every 50 ms
        with pytest.raises(errors.ClientError) as info:
            client.files.get(name=f.name)
        assert info.value.code == 403  # expired: as missing, PERMISSION_DENIED
