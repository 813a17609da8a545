"""Where an object is: `oci://<namespace>/<bucket>/<name>` or a local path."""

from __future__ import annotations

from auditship.errors import SourceError
from auditship.model import ObjectRef


def parse_source(text: str) -> tuple[ObjectRef, bool]:
    """`oci://ns/bucket/name` or a local path -> (ref, is_prefix). A trailing `/` on an
    oci:// source means every object under that prefix."""
    if text.startswith("oci://"):
        rest = text[len("oci://") :]
        parts = rest.split("/", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise SourceError(f"{text}: expected oci://<namespace>/<bucket>/<object or prefix/>")
        name = parts[2] if len(parts) == 3 else ""
        return ObjectRef(name, parts[0], parts[1]), name == "" or name.endswith("/")
    return ObjectRef(text), False
