#!/usr/bin/env python3
"""Generate realistic OCI `_Audit` records, laid out the ways objects arrive.

Used by the benchmark, the tests and to make the bundled sample. Records follow the
Logging `_Audit` shape (CloudEvents 1.0 envelope, audit schema v2 `data`), about 2.2 KB
each, with credential-bearing headers present so redaction has work to do.

Layouts:
- `connector`: what Service Connector writes: 1-5 records glued with `}{` per line.
- `ndjson`: one record per line.
- `pretty`: each record indented over several lines, records back to back.
- `array`: one top-level JSON array.
- `wrapped`: Logging search-result wrappers `{"datetime": ms, "logContent": {...}}`, NDJSON.

    python scripts/auditgen.py OUT.log.gz --mb 16 --layout connector
"""

from __future__ import annotations

import argparse
import gzip
import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

LAYOUTS = ("connector", "ndjson", "pretty", "array", "wrapped")
_SERVICES = [
    ("virtualNetwork", "UpdateVnic", "PUT", "/20160918/vnics/"),
    ("ComputeApi", "LaunchInstance", "POST", "/20160918/instances/"),
    ("ComputeApi", "TerminateInstance", "DELETE", "/20160918/instances/"),
    ("identityControlPlane", "UpdateUser", "PUT", "/20160918/users/"),
    ("objectstorage", "CreateBucket", "POST", "/n/ns/b/"),
    ("keyManagementService", "CreateKey", "POST", "/20180608/keys/"),
]


def _ocid(kind: str, rnd: random.Random) -> str:
    return f"ocid1.{kind}.oc1..aaaa{rnd.getrandbits(200):050x}"


def make_record(rnd: random.Random, when: datetime, tricky: bool = False) -> dict[str, Any]:
    service, event, action, path = rnd.choice(_SERVICES)
    rid = uuid.UUID(int=rnd.getrandbits(128)).hex
    tenancy = "ocid1.tenancy.oc1..aaaaexampletenancy"
    comp = _ocid("compartment", rnd)
    resource = _ocid(service.lower(), rnd)
    message = f"{event} succeeded"
    if tricky:  # strings that look like record boundaries or JSON
        message = rnd.choice(['bad input: "}{" found', "a}\n{b", "payload={}{}", '[{"x":1}]'])
    ts = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "data": {
            "additionalDetails": {"X-Real-Port": rnd.randint(1024, 65535)},
            "availabilityDomain": f"AD{rnd.randint(1, 3)}",
            "compartmentId": comp,
            "compartmentName": rnd.choice(["app-dev", "prod", "security", "network"]),
            "definedTags": {"Oracle-Tags": {"CreatedBy": "faas", "CreatedOn": ts}},
            "eventGroupingId": rid,
            "eventName": event,
            "freeformTags": {},
            "identity": {
                "authType": "natv",
                "callerId": None,
                "callerName": None,
                "consoleSessionId": None,
                "credentials": f"{tenancy}/ocid1.user.oc1..aaaa/{rnd.getrandbits(64):x}",
                "ipAddress": "10.{}.{}.{}".format(*(rnd.randint(1, 254) for _ in range(3))),
                "principalId": "ocid1.user.oc1..aaaaexampleuser",
                "principalName": rnd.choice(["jane.doe@example.com", "ops-bot", None]),
                "tenantId": tenancy,
                "userAgent": "Oracle-PythonSDK/2.150.0 (python 3.11.7; x86_64-Linux)",
            },
            "message": message,
            "request": {
                "action": action,
                "headers": {
                    "Authorization": [
                        'Signature version="1",keyId="' + tenancy + '/user/fp",'
                        'algorithm="rsa-sha256",signature="' + f"{rnd.getrandbits(256):064x}" + '"'
                    ],
                    "Content-Type": ["application/json"],
                    "opc-request-id": [rid],
                    "opc-principal": ['{"tenantId":"' + tenancy + '","subjectId":"x"}'],
                },
                "id": rid,
                "parameters": {},
                "path": path + resource,
            },
            "resourceId": resource,
            "response": {
                "headers": {"Content-Type": ["application/json"], "opc-request-id": [rid]},
                "message": None,
                "payload": {"id": resource, "displayName": f"res-{rnd.randint(1, 999)}"},
                "responseTime": ts,
                "status": rnd.choice(["200", "200", "200", "404", "409"]),
            },
            "stateChange": {"current": {"lifecycleState": "AVAILABLE"}, "previous": None},
        },
        "dataschema": "2.0",
        "id": str(uuid.UUID(int=rnd.getrandbits(128))),
        "oracle": {
            "compartmentid": comp,
            "ingestedtime": ts,
            "loggroupid": "_Audit",
            "tenantid": tenancy,
        },
        "source": "",
        "specversion": "1.0",
        "time": ts,
        "type": f"com.oraclecloud.{service}.{event}",
    }


def records(seed: int = 1, tricky_ratio: float = 0.0) -> Iterator[dict[str, Any]]:
    rnd = random.Random(seed)
    when = datetime(2026, 11, 1, tzinfo=UTC)
    while True:
        when += timedelta(milliseconds=rnd.randint(1, 900))
        yield make_record(rnd, when, tricky=rnd.random() < tricky_ratio)


def render(recs: list[dict[str, Any]], layout: str, rnd: random.Random) -> bytes:
    """Lay out `recs` as one object body (uncompressed)."""
    if layout == "ndjson":
        return b"".join(orjson.dumps(r) + b"\n" for r in recs)
    if layout == "pretty":
        return b"\n".join(orjson.dumps(r, option=orjson.OPT_INDENT_2) for r in recs) + b"\n"
    if layout == "array":
        return b"[\n" + b",\n".join(orjson.dumps(r) for r in recs) + b"\n]\n"
    if layout == "wrapped":
        out = []
        for r in recs:
            ms = int(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp() * 1000)
            out.append(orjson.dumps({"datetime": ms, "logContent": r}) + b"\n")
        return b"".join(out)
    if layout == "connector":
        out, i = [], 0
        while i < len(recs):
            n = rnd.randint(1, 5)
            out.append(b"".join(orjson.dumps(r) for r in recs[i : i + n]) + b"\n")
            i += n
        return b"".join(out)
    raise ValueError(f"unknown layout {layout!r}")


def write_object(path: str, target_bytes: int, layout: str, seed: int = 1, tricky: float = 0.0,
                 compresslevel: int = 6) -> tuple[int, int]:  # fmt: skip
    """Write a gzip object of about `target_bytes` decompressed. Returns (records, bytes)."""
    rnd = random.Random(seed + 7)
    gen = records(seed, tricky)
    written = count = 0
    with gzip.open(path, "wb", compresslevel=compresslevel) as f:
        if layout == "array":
            f.write(b"[\n")
            written += 2
        first = True
        while written < target_bytes:
            recs = [next(gen) for _ in range(200)]
            if layout == "array":
                body = (b"" if first else b",\n") + b",\n".join(orjson.dumps(r) for r in recs)
            else:
                body = render(recs, layout, rnd)
            first = False
            f.write(body)
            written += len(body)
            count += len(recs)
        if layout == "array":
            f.write(b"\n]\n")
            written += 3
    return count, written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Generate realistic OCI audit objects")
    p.add_argument("out")
    p.add_argument("--mb", type=float, default=1.0, help="decompressed size in MB")
    p.add_argument("--layout", choices=LAYOUTS, default="connector")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tricky", type=float, default=0.0, help="share of records with '}{' text")
    a = p.parse_args(argv)
    n, size = write_object(a.out, int(a.mb * 1_000_000), a.layout, a.seed, a.tricky)
    print(f"{a.out}: {n} records, {size} bytes decompressed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
