"""decode_stream: gzip (single and multi-member), plain pass-through, damage reported and
skipped to the next member."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from auditship.transforms import decode
from auditship.transforms.decode import MAX_FAULT_RAW_BYTES, DecodeFault, decode_stream
from hypothesis import given, settings
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
    assert b"".join(pieces) == b"".join(without_bom(m) for m in members)
    assert all(len(p) <= max_chunk for p in pieces)


def without_bom(data: bytes) -> bytes:
    return data[len(decode.UTF8_BOM) :] if data.startswith(decode.UTF8_BOM) else data


@given(data=st.binary(max_size=5000), chunk=st.integers(min_value=1, max_value=512))
def test_plain_bytes_pass_through(data: bytes, chunk: int) -> None:
    if data[:2] == b"\x1f\x8b":
        data = b"x" + data
    assert b"".join(decode_stream(chunked(data, chunk), "obj")) == without_bom(data)


BOM = b"\xef\xbb\xbf"


@given(
    boms=st.lists(st.booleans(), min_size=1, max_size=4),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_a_byte_order_mark_starting_an_object_or_a_gzip_member_is_dropped(
    boms: list[bool], chunk: int
) -> None:
    record = b'{"eventType":"x","n":1}\n'
    plain = (BOM if boms[0] else b"") + record
    assert b"".join(decode_stream(chunked(plain, chunk), "obj")) == record
    blob = b"".join(gzip.compress((BOM if bom else b"") + record) for bom in boms)
    assert b"".join(decode_stream(chunked(blob, chunk), "obj")) == record * len(boms)


def test_bytes_that_only_start_like_a_byte_order_mark_are_kept() -> None:
    for data in (b"\xef", b"\xef\xbb", b"\xef\xbb{"):
        assert b"".join(decode_stream([data], "obj")) == data
        assert b"".join(decode_stream([gzip.compress(data)], "obj")) == data


def split(items: list[bytes | DecodeFault]) -> tuple[bytes, list[DecodeFault]]:
    data = b"".join(x for x in items if isinstance(x, bytes))
    return data, [x for x in items if isinstance(x, DecodeFault)]


def test_truncated_gzip_yields_what_it_decoded_then_names_object_and_offset() -> None:
    payload = b'{"a":1}\n' * 20000
    blob = gzip.compress(payload)
    cut = blob[: len(blob) // 2]
    items = list(decode_stream(chunked(cut, 1000), "audit/x.log.gz"))
    got, [fault] = split(items)
    assert items[-1] is fault  # after everything decoded before it
    assert 0 < len(got) < len(payload)
    assert payload.startswith(got)
    assert "audit/x.log.gz" in str(fault.error)
    assert "truncated" in str(fault.error)
    assert (fault.error.offset, fault.end) == (0, len(cut))  # the member, to where it stops


def test_corrupt_member_is_a_fault_and_the_members_after_it_still_decode() -> None:
    members = [bytes([65 + i]) * 50_000 for i in range(3)]
    parts = [bytearray(gzip.compress(m)) for m in members]
    parts[1][len(parts[1]) // 2] ^= 0xFF
    blob = b"".join(bytes(p) for p in parts)
    items = list(decode_stream(chunked(blob, 64), "obj", max_chunk=4096))
    got, [fault] = split(items)
    assert got.startswith(members[0])
    assert got.endswith(members[2])  # the damage did not take the next member with it
    assert fault.error.object_name == "obj"
    assert "corrupt gzip data" in str(fault.error)
    start = len(parts[0])
    assert start <= fault.error.offset < fault.end == start + len(parts[1])
    assert fault.error.offset == start  # the damaged member, whose bytes stay in the object
    assert blob[fault.end - len(fault.raw) : fault.end] == fault.raw


def test_bytes_that_are_not_gzip_between_members_are_a_fault() -> None:
    blob = gzip.compress(b"abc") + b"not gzip" + gzip.compress(b"def")
    got, [fault] = split(list(decode_stream([blob], "obj")))
    assert got == b"abcdef"
    assert "not gzip" in str(fault.error)
    assert fault.raw == b"not gzip"


def test_trailing_garbage_after_the_last_member_is_a_fault() -> None:
    blob = gzip.compress(b"abc") + b"not gzip"
    got, [fault] = split(list(decode_stream(chunked(blob, 3), "obj")))
    assert got == b"abc"
    assert fault.raw == b"not gzip"
    assert fault.end == len(blob)


def test_a_long_damaged_stretch_attaches_only_its_start() -> None:
    blob = gzip.compress(b"abc") + b"\x01" * (MAX_FAULT_RAW_BYTES + 10)
    _, [fault] = split(list(decode_stream(chunked(blob, 65536), "obj")))
    assert len(fault.raw) == MAX_FAULT_RAW_BYTES
    assert f"({MAX_FAULT_RAW_BYTES + 10} bytes)" in str(fault.error)


@settings(max_examples=150)
@given(
    members=st.lists(st.binary(min_size=1, max_size=2000), min_size=2, max_size=5),
    damaged=st.data(),
    chunk=st.integers(min_value=1, max_value=700),
)
def test_any_damage_to_one_member_keeps_every_other_member(
    members: list[bytes], damaged: st.DataObject, chunk: int
) -> None:
    """Overwrite bytes inside one member: every member before it and after it comes back
    whole and in order, and the damage is reported, never raised and never hung on."""
    parts = [bytearray(gzip.compress(m)) for m in members]
    members = [without_bom(m) for m in members]  # what each member decodes to
    k = damaged.draw(st.integers(0, len(parts) - 1))
    # Damage the deflate data (after the 10-byte header, before the 8-byte trailer).
    at = damaged.draw(st.integers(10, len(parts[k]) - 9))
    junk = damaged.draw(st.binary(min_size=1, max_size=8))
    parts[k][at : at + len(junk)] = junk[: len(parts[k]) - 8 - at] or b"\xff"
    blob = b"".join(bytes(p) for p in parts)
    got, faults = split(list(decode_stream(chunked(blob, chunk), "obj")))
    before, after = b"".join(members[:k]), b"".join(members[k + 1 :])
    assert got.startswith(before)
    if faults:
        assert got.endswith(after)
    else:  # the overwrite happened to leave valid deflate data with the same checksum
        assert got == b"".join(members)


def test_zlib_written_gzip_decodes() -> None:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    blob = c.compress(b"zzz" * 1000) + c.flush()
    assert b"".join(decode_stream([blob], "obj")) == b"zzz" * 1000


def test_empty_object_decodes_to_nothing() -> None:
    assert list(decode_stream([], "obj")) == []
    assert list(decode_stream([b""], "obj")) == []


@settings(max_examples=100)
@given(
    members=st.lists(st.binary(min_size=1, max_size=2000), min_size=2, max_size=4),
    damaged=st.data(),
    chunk=st.integers(min_value=1, max_value=700),
)
def test_damage_in_a_member_too_long_to_keep_never_hangs_or_raises(
    members: list[bytes], damaged: st.DataObject, chunk: int
) -> None:
    """Past MEMBER_REPLAY_BYTES the search starts where the damage surfaced: members
    before the damage still come back whole, and decoding always ends."""
    parts = [bytearray(gzip.compress(m)) for m in members]
    members = [without_bom(m) for m in members]  # what each member decodes to
    k = damaged.draw(st.integers(0, len(parts) - 1))
    at = damaged.draw(st.integers(10, len(parts[k]) - 1))
    parts[k][at] ^= damaged.draw(st.integers(1, 255))
    blob = b"".join(bytes(p) for p in parts)
    saved = decode.MEMBER_REPLAY_BYTES
    decode.MEMBER_REPLAY_BYTES = 4
    try:
        got, _ = split(list(decode_stream(chunked(blob, chunk), "obj")))
    finally:
        decode.MEMBER_REPLAY_BYTES = saved
    assert got.startswith(b"".join(members[:k]))


def outline(items: list[bytes | DecodeFault]) -> list[Any]:
    """What a decode yields, independent of how its output was cut into pieces."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, DecodeFault):
            out.append((item.error.offset, item.end, item.raw, item.error.reason))
        elif out and isinstance(out[-1], bytes):
            out[-1] += item
        else:
            out.append(bytes(item))
    return out


@settings(max_examples=60)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=3_000_000), min_size=1, max_size=3),
    seed=st.integers(0, 2**32),
    damage=st.data(),
    chunks=st.lists(st.integers(min_value=1, max_value=300_000), min_size=1, max_size=6),
)
def test_damaged_objects_decode_the_same_however_they_are_read(
    sizes: list[int], seed: int, damage: st.DataObject, chunks: list[int]
) -> None:
    """Record indices after a fault feed checkpoints, so a damaged object must decode to the
    same bytes and faults whatever chunks the reader delivers (a resumed download cuts
    them differently). Members are text-like (compressing ~4:1), up to a few MB."""
    rnd = random.Random(seed)
    words = [rnd.randbytes(rnd.randint(1, 12)) for _ in range(64)]
    members = [b" ".join(rnd.choices(words, k=size // 7 + 1))[:size] for size in sizes]
    blob = bytearray(b"".join(gzip.compress(m, 1) for m in members))
    for _ in range(damage.draw(st.integers(1, 3))):
        blob[damage.draw(st.integers(0, len(blob) - 1))] ^= damage.draw(st.integers(1, 255))
    data = bytes(blob)
    pieces, at, k = [], 0, 0
    while at < len(data):
        size = chunks[k % len(chunks)]
        pieces.append(data[at : at + size])
        at, k = at + size, k + 1
    reference = outline(list(decode_stream(chunked(data, 1024 * 1024), "obj")))
    assert outline(list(decode_stream(pieces, "obj"))) == reference


def test_two_faults_each_carry_their_own_bytes_and_range() -> None:
    a, b, c = gzip.compress(b"a" * 100), gzip.compress(b"b" * 100), gzip.compress(b"c" * 100)
    blob = a + b"XX" + b + b"\x00\x00" + b"YYY" + c
    items = list(decode_stream(chunked(blob, 5), "obj"))
    got, faults = split(items)
    assert got == b"a" * 100 + b"b" * 100 + b"c" * 100
    first, second = faults
    assert (first.error.offset, first.end, first.raw) == (len(a), len(a) + 2, b"XX")
    start = len(a) + 2 + len(b) + 2  # zero padding after a member is not damage
    assert (second.error.offset, second.end, second.raw) == (start, start + 3, b"YYY")


def test_a_header_with_reserved_flags_is_not_a_member() -> None:
    a, b = gzip.compress(b"a" * 10), gzip.compress(b"b" * 10)
    junk = b"ab\x1f\x8b\x08\xe0zz"  # looks like a header but sets reserved flag bits
    for size in (1, 3, 5, 100):
        got, [fault] = split(list(decode_stream(chunked(a + junk + b, size), "obj")))
        assert got == b"a" * 10 + b"b" * 10
        assert (fault.error.offset, fault.end, fault.raw) == (len(a), len(a) + 8, junk)


def test_a_failed_read_raises_after_what_was_read_is_decoded() -> None:
    """A read failure is not damage (the next call reads again): no fault, but the bytes
    read before it are decoded first, so they can still be shipped."""
    payload = b'{"a":1}\n' * 50_000
    blob = gzip.compress(payload)

    def reader() -> Iterator[bytes]:
        yield blob[:20_000]
        raise OSError("connection reset")

    got = bytearray()
    with pytest.raises(OSError, match="connection reset"):
        for item in decode_stream(reader(), "obj"):
            assert isinstance(item, bytes)
            got += item
    assert len(got) > 20_000
    assert payload.startswith(bytes(got))
