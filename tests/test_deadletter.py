"""Dead letters: what is written can be read back, letter by letter, for a replay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from auditship.delivery.deadletter import DeadLetterWriter, LocalDeadLetterStore
from auditship.errors import SourceError
from auditship.model import ObjectRef, Reject
from auditship.sources.replay import DeadLetterReplayReader
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


class ChunkedFile:
    """Reads a local file in chunks of a given size (the replay must not care)."""

    def __init__(self, size: int) -> None:
        self.size = size

    def read(self, obj: ObjectRef) -> Iterator[bytes]:
        data = Path(obj.name).read_bytes()
        for i in range(0, len(data), self.size):
            yield data[i : i + self.size]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    letters=st.lists(
        st.tuples(st.binary(max_size=300), st.sampled_from(["sink", "repair", "decode"])),
        max_size=20,
    ),
    chunk=st.integers(min_value=1, max_value=500),
)
def test_a_replay_reads_back_every_record_letter_in_order(
    tmp_path: Path, letters: list[tuple[bytes, str]], chunk: int
) -> None:
    """Records a sink refused come back one per line, whatever bytes they hold; letters of
    bytes that were not JSON or not gzip are not replayed (found by review: glued to their
    neighbours they swallowed records, or made some up)."""
    folder = tmp_path / uuid.uuid4().hex  # one per example
    writer = DeadLetterWriter(LocalDeadLetterStore(str(folder)), ObjectRef("audit/x.gz"), 400)
    for i, (raw, stage) in enumerate(letters):
        writer.add(Reject("audit/x.gz", i, "why", raw, i, stage))
    writer.flush()
    got = b""
    skipped = 0
    for part in sorted(folder.glob("*.ndjson")):
        reader = DeadLetterReplayReader(ChunkedFile(chunk))
        got += b"".join(reader.read(ObjectRef(str(part))))
        skipped += reader.not_replayed
    one_line = [
        raw for raw, stage in letters if stage == "sink" and raw.strip() and not set(raw) & {10, 13}
    ]
    assert got == b"".join(raw + b"\n" for raw in one_line)
    assert skipped == sum(1 for _, stage in letters if stage != "sink") + sum(
        1 for raw, stage in letters if stage == "sink" and raw not in one_line
    )


def test_a_line_that_is_not_a_dead_letter_is_an_error(tmp_path: Path) -> None:
    part = tmp_path / "x.ndjson"
    part.write_bytes(b'{"object":"o","stage":"sink","raw":"{}"}\n{"a":1}\n')
    with pytest.raises(SourceError, match="line 2 is not a dead letter"):
        list(DeadLetterReplayReader(ChunkedFile(7)).read(ObjectRef(str(part))))
