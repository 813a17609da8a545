"""One bad record never blocks an object: whatever values a record holds, preparing it for
any sink gives exactly one item, a record or a reject with its reason, never an exception
(which would fail the object on every retry)."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import oci
import orjson
import pytest
from auditship.deadline import Deadline
from auditship.delivery.deadletter import LocalDeadLetterStore
from auditship.model import ObjectRef
from auditship.pipeline import ShipOptions
from auditship.shipping import ship_object
from auditship.sinks.base import Sink
from auditship.sinks.logzio import LogzioSink
from auditship.sinks.oci_logging import OciLoggingSink
from auditship.sinks.stdout import StdoutSink
from auditship.sources.local import LocalReader
from auditship.state.ledger import NullLedger
from auditship.transforms.normalize import NormalizeOptions, Normalizer
from auditship.transforms.prepare import OTHER, RECORD, ItemKind, prepare
from fakes.logging_ingestion import FakeLoggingIngestion
from fakes.oci_auth import make_client
from hypothesis import given, settings
from hypothesis import strategies as st

OBJ = ObjectRef("audit/hostile.log.gz", "ns", "bucket")
LOG_ID = "ocid1.log.oc1.iad.amaaaaaatestlog"

# Times that parse but do not convert: the first and last representable instants moved
# past the edge by an offset, leap seconds, far epochs.
EDGE_TIMES = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999+00:00",
    "2026-06-30T23:59:60Z",
    "2026-13-01T00:00:00Z",
    "",
]
EDGE_NUMBERS = [0, -1, 2**63 - 1, -(2**63), 2**64, 10**30, 1e300, -1e300, 5e-324, 253402300800000]

scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(EDGE_TIMES)
    | st.sampled_from(EDGE_NUMBERS)
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
# Records shaped like audit records, with any value where the pipeline looks: the event
# time fields, `type`, `id`, the redaction containers, a Logging wrapper.
records = st.fixed_dictionaries(
    {},
    optional={
        "time": values,
        "eventTime": values,
        "type": values,
        "id": values,
        "eventType": values,
        "data": st.fixed_dictionaries(
            {},
            optional={
                "identity": st.fixed_dictionaries({}, optional={"credentials": values}),
                "request": st.fixed_dictionaries(
                    {}, optional={"action": values, "headers": values}
                ),
                "response": st.fixed_dictionaries({}, optional={"headers": values}),
            },
        ),
    },
)
wrapped = st.builds(lambda inner, when: {"datetime": when, "logContent": inner}, records, values)


@pytest.fixture(scope="module")
def sinks() -> list[Sink]:
    client = make_client(oci.loggingingestion.LoggingClient, "http://127.0.0.1:9")
    return [
        LogzioSink("http://127.0.0.1:9", "token", max_line_bytes=2000),
        OciLoggingSink(client, LOG_ID),
        StdoutSink(stream=None),
    ]


@settings(max_examples=300)
@given(record=records | wrapped, filtered=st.booleans())
def test_preparing_any_record_for_any_sink_gives_one_item(
    sinks: list[Sink], record: dict[str, Any], filtered: bool
) -> None:
    normalizer = Normalizer(NormalizeOptions(actions=frozenset({"POST"}) if filtered else None))
    for sink in sinks:
        copy = deepcopy(record)  # normalization edits records in place
        window = prepare([(7, copy)], OBJ, normalizer, sink)
        assert len(window.kinds) == len(window.offsets) == len(window.sizes) == 1
        assert window.offsets == [7]
        if window.kinds[0] == RECORD:
            assert window.sizes[0] > 0
        else:
            assert window.kinds[0] == OTHER
            [item] = window.others
            assert item.kind is ItemKind.FILTERED or item.reject is not None


def test_an_edge_time_ships_through_putlogs_with_the_rest_of_the_object(tmp_path: Path) -> None:
    """Found by an attacker's test: year 1 at +01:00 crashed PutLogs preparation with an
    uncaught OverflowError on every retry, so no record of the object ever shipped."""
    lines = [
        {"id": "a", "time": "2026-11-01T00:00:00.000Z", "type": "t"},
        {"id": "b", "time": "0001-01-01T00:00:00+01:00", "type": "t"},
        {"id": "c", "time": "9999-12-31T23:59:59-01:00", "type": "t"},
        {"id": "d", "time": "2026-11-01T00:00:01.000Z", "type": "t"},
    ]
    path = tmp_path / "edge.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in lines))
    with FakeLoggingIngestion({LOG_ID}) as fake:
        client = make_client(oci.loggingingestion.LoggingClient, fake.url)
        sink = OciLoggingSink(client, LOG_ID)
        summary = ship_object(
            ObjectRef(str(path)),
            reader=LocalReader(),
            sink=sink,
            normalizer=Normalizer(),
            dead_letters=LocalDeadLetterStore(str(tmp_path / "dlq")),
            ledger=NullLedger(),
            deadline=Deadline.unlimited(),
            options=ShipOptions(),
        )
        assert summary.complete, summary.errors
        assert summary.shipped == 4
        assert [e.id for e in fake.entries(LOG_ID)] == ["a", "b", "c", "d"]
