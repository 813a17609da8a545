"""What an invocation asks for: an Object-Create event, or a manual replay.

Accepted payloads:
- the Events service's `com.oraclecloud.objectstorage.createobject` event (CloudEvents 0.1:
  `data.resourceName`, `data.additionalDetails.{namespace,bucketName,eTag}`), or a list of them;
- a replay for `fn invoke`:
  `{"object": "oci://<ns>/<bucket>/<name>"}`, `{"objects": ["oci://...", ...]}`,
  `{"prefix": "oci://<ns>/<bucket>/<prefix>/"}`, or the long form
  `{"namespace": ..., "bucket": ..., "object"|"objects"|"prefix": ...}`;
  add `"force": true` to ship again objects that were already shipped;
- a reconciliation sweep: `{"sweep": "oci://<ns>/<bucket>/<prefix>", "older_than": "15m"}`
  (see entrypoints/sweeping.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from auditship.errors import PayloadError, SourceError
from auditship.model import ObjectRef
from auditship.sources.address import parse_source
from auditship.sweep import SweepRequest, parse_sweep_request

CREATE_OBJECT = "com.oraclecloud.objectstorage.createobject"


@dataclass
class Invocation:
    objects: list[ObjectRef] = field(default_factory=list)
    prefixes: list[tuple[str, str, str]] = field(default_factory=list)  # (ns, bucket, prefix)
    force: bool = False
    sweep: SweepRequest | None = None  # a sweep names no object: it lists them


def parse_invocation(payload: bytes) -> Invocation:
    if not payload or not payload.strip():
        raise PayloadError("empty payload: expected an Object-Create event or a replay request")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON ({exc.msg} at byte {exc.pos})") from None
    if isinstance(doc, dict) and "sweep" in doc:
        return Invocation(sweep=parse_sweep_request(doc))
    inv = Invocation()
    items = doc if isinstance(doc, list) else [doc]
    for item in items:
        if not isinstance(item, dict):
            raise PayloadError("payload items must be JSON objects")
        if "eventType" in item or "cloudEventsVersion" in item:
            inv.objects.append(_from_event(item))
        else:
            _from_replay(item, inv)
    if not inv.objects and not inv.prefixes:
        raise PayloadError("payload names no object")
    return inv


def _from_event(event: dict[str, Any]) -> ObjectRef:
    etype = event.get("eventType")
    if etype != CREATE_OBJECT:
        raise PayloadError(f"unsupported event type {etype!r}; expected {CREATE_OBJECT}")
    data = event.get("data")
    details = data.get("additionalDetails") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(details, dict):
        raise PayloadError("event has no data.additionalDetails")
    name, ns, bucket = data.get("resourceName"), details.get("namespace"), details.get("bucketName")
    missing = [
        k
        for k, v in (
            ("data.resourceName", name),
            ("data.additionalDetails.namespace", ns),
            ("data.additionalDetails.bucketName", bucket),
        )
        if not isinstance(v, str) or not v
    ]
    if missing:
        raise PayloadError("event is missing " + ", ".join(missing))
    etag = details.get("eTag") or ""
    return ObjectRef(str(name), str(ns), str(bucket), str(etag))


def _from_replay(item: dict[str, Any], inv: Invocation) -> None:
    try:
        _replay_items(item, inv)
    except SourceError as exc:  # a malformed oci:// address
        raise PayloadError(str(exc)) from None


def _replay_items(item: dict[str, Any], inv: Invocation) -> None:
    inv.force = inv.force or item.get("force") is True
    ns, bucket = item.get("namespace"), item.get("bucket")
    found = False
    for key in ("object", "objects", "prefix"):
        value = item.get(key)
        if value is None:
            continue
        found = True
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, str) or not v:
                raise PayloadError(f"{key}: expected a non-empty string")
            ref, is_prefix = parse_source(v) if v.startswith("oci://") else (None, False)
            if ref is None:
                if not ns or not bucket:
                    raise PayloadError(
                        f"{key} {v!r}: use oci://<namespace>/<bucket>/<name> or give "
                        '"namespace" and "bucket"'
                    )
                ref = ObjectRef(v, str(ns), str(bucket))
                is_prefix = v.endswith("/")
            if key == "prefix" or is_prefix:
                inv.prefixes.append((ref.namespace, ref.bucket, ref.name))
            else:
                inv.objects.append(ref)
    if not found:
        raise PayloadError('replay request needs "object", "objects" or "prefix"')
