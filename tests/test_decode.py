"""decode_stream: gzip (single and multi-member), plain pass-through, clear errors."""

from __future__ import annotations

import gzip
import zlib

import pytest
from auditship.decode import decode_stream
from auditship.errors import DecodeError
from hypothesis import given
from hypothesis import strategies as st


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


@given(
    members=st.lists(st.binary(max_size=3000), min_size=1, max_size=5),
    chunk=st.integers(min_value=1, max_value=4096),
    padding=st.integers(min_value=0, max_value=8),
    max_chunk=st.integers(min_value=1, max_value=5000),
)
def test_multi_member_gzip_round_trips_in_any_chunking(
    members: list[bytes], chunk: int, padding: int, max_chunk: int
) -> None:
    blob = b"".join(gzip.compress(m) for m in members) + b"\x00" * padding
    pieces = list(decode_stream(chunked(blob, chunk), "obj", max_chunk))
    assert b"".join(pieces) == b"".join(members)
    assert all(len(p) <= max_chunk for p in pieces)


@given(data=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=512))
def test_plain_bytes_pass_through(data: bytes, chunk: int) -> None:
    if data[:2] == b"\x1f\x8b":
        data = b"x" + data
    assert b"".join(decode_stream(chunked(data, chunk), "obj")) == data


def test_truncated_gzip_yields_what_it_decoded_then_names_object_and_offset() -> None:
    payload = b'{"a":1}\n' * 20000
    blob = gzip.compress(payload)
    cut = blob[: len(blob) // 2]
    got = bytearray()
    with pytest.raises(DecodeError) as info:
        for piece in decode_stream(chunked(cut, 1000), "audit/x.log.gz"):
            got += piece
    assert 0 < len(got) < len(payload)
    assert payload.startswith(bytes(got))
    assert "audit/x.log.gz" in str(info.value)
    assert "truncated" in str(info.value)
    assert info.value.offset == len(cut)


def test_corrupt_gzip_is_a_decode_error_with_offset() -> None:
    blob = bytearray(gzip.compress(bytes(range(256)) * 400))
    blob[200] ^= 0xFF
    with pytest.raises(DecodeError) as info:
        b"".join(decode_stream(chunked(bytes(blob), 64), "obj"))
    assert info.value.object_name == "obj"
    assert 0 <= info.value.offset <= len(blob)


def test_trailing_garbage_after_a_member_is_an_error() -> None:
    blob = gzip.compress(b"abc") + b"not gzip"
    with pytest.raises(DecodeError, match="not gzip"):
        b"".join(decode_stream([blob], "obj"))


def test_zlib_written_gzip_decodes() -> None:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    blob = c.compress(b"zzz" * 1000) + c.flush()
    assert b"".join(decode_stream([blob], "obj")) == b"zzz" * 1000


def test_empty_object_decodes_to_nothing() -> None:
    assert list(decode_stream([], "obj")) == []
    assert list(decode_stream([b""], "obj")) == []
