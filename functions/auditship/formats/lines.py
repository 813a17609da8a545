"""Lines of a text stream, incrementally: bytes in, `Line`s out. Pure, no I/O.

Contract:
- A line ends at `\\n`; a `\\r` before it is dropped (CRLF files). The last line needs
  no newline. Each `Line` carries the stream offset of its first byte and its number
  (from 1), so a reject can name both.
- Memory is bounded by `max_line`: a line longer than that is handed out once, with its
  first `max_line` bytes in `data` and its whole length in `length`, and the rest of it
  is skipped. Where lines end depends on the bytes only, never on how they were chunked,
  so positions are the same on every run (checkpoints count them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Line:
    offset: int  # of the line's first byte in the stream
    number: int  # 1 for the first line
    data: bytes  # without the line end; the first `max_line` bytes of an over-long line
    length: int  # bytes of the line without its end: more than len(data) when cut

    @property
    def cut(self) -> bool:
        return self.length > len(self.data)


class LineSplitter:
    def __init__(self, max_line: int, base_offset: int = 0) -> None:
        self._max = max_line
        self._held = bytearray()
        self._at = base_offset  # stream offset of _held[0] (or of what is being skipped)
        self._number = 0
        self._skipping = -1  # while skipping an over-long line: its length so far
        self._head = b""  # that line's first max_line bytes
        self._cr = False  # the last byte skipped was \r

    def feed(self, chunk: bytes) -> Iterator[Line]:
        start = 0
        if self._skipping >= 0:
            end = chunk.find(b"\n")
            if end < 0:
                self._skipping += len(chunk)
                self._cr = chunk.endswith(b"\r") or (not chunk and self._cr)
                return
            cr = chunk[end - 1] == 0x0D if end else self._cr
            yield self._cut(self._head, self._skipping + end - cr)
            self._at += self._skipping + end + 1
            self._skipping = -1
            start = end + 1
        held = self._held
        if held:
            end = chunk.find(b"\n", start)
            if end < 0:
                held += chunk[start:]
                self._check_long()
                return
            held += chunk[start:end]
            yield self._line(bytes(held), len(held))
            self._at += len(held) + 1
            held.clear()
            start = end + 1
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                break
            yield self._line(chunk[start:end], end - start)
            self._at += end - start + 1
            start = end + 1
        if start < len(chunk):
            held += chunk[start:]
            self._check_long()

    def finish(self) -> Iterator[Line]:
        if self._skipping >= 0:
            yield self._cut(self._head, self._skipping - self._cr)
            self._at += self._skipping
            self._skipping = -1
        elif self._held:
            yield self._line(bytes(self._held), len(self._held))
            self._at += len(self._held)  # a stream fed on after a decode fault goes on here
            self._held.clear()

    def _check_long(self) -> None:
        # A line is known to be over-long once more than max_line bytes of it are held
        # (the byte after max_line could be its \r, which is not part of the line).
        held = self._held
        if len(held) > self._max + 1:
            self._head = bytes(held[: self._max])
            self._skipping = len(held)
            self._cr = held.endswith(b"\r")
            held.clear()

    def _line(self, data: bytes, length: int) -> Line:
        if data.endswith(b"\r"):
            data, length = data[:-1], length - 1
        if length > self._max:
            return self._cut(data[: self._max], length)
        self._number += 1
        return Line(self._at, self._number, data, length)

    def _cut(self, head: bytes, length: int) -> Line:
        self._number += 1
        return Line(self._at, self._number, head, length)
