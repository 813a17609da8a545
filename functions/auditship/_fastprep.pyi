# Types of the C extension auditship._fastprep (native/fastprep.c; its header comment is
# the contract). The only caller is transforms/fastpath.py.
from typing import Any

DONE: int
INCOMPLETE: int
HANDOVER: int
YYJSON_VERSION: str

def prepare(
    data: bytes | memoryview,
    pos: int,
    base: int,
    spec: tuple[Any, ...],
    kinds: bytearray,
    offsets: list[int],
    payloads: list[Any],
    sizes: list[int],
    /,
) -> tuple[int, int]: ...
