"""Job and file names are checked against the service's grammar before any request carries them."""

from __future__ import annotations

import pytest

import gembatch as gb
from gembatch.transport.names import batch_name, file_name, looks_like_batch

BAD = [
    "batches/../../etc/passwd",
    "batches/abc/../../x",
    "batches/",
    "batches/ABC",
    "batches/a b",
    "batches/abc?key=x",
    "batches/abc#frag",
    "batches/-abc",
    "batches/abc-",
    "../secrets",
    "",
    "files/abc",
    "batches/%2e%2e",
    "batches/" + "a" * 200,
]


@pytest.mark.parametrize("value", BAD)
def test_malformed_batch_names_are_refused(value: str) -> None:
    with pytest.raises(gb.InputError, match="is not a batch job name") as info:
        batch_name(value)
    assert info.value.field == "job"


@pytest.mark.parametrize(
    ("value", "want"),
    [("abc123", "batches/abc123"), ("batches/abc123", "batches/abc123"), (" batches/x-1 ", "batches/x-1")],
)
def test_full_and_bare_ids_are_accepted(value: str, want: str) -> None:
    assert batch_name(value) == want


def test_file_names() -> None:
    assert file_name("abc") == "files/abc"
    with pytest.raises(gb.InputError, match="not a file name"):
        file_name("files/../batches/x")


def test_looks_like_batch() -> None:
    assert looks_like_batch("batches/../x")
    assert not looks_like_batch("runs/batches")
