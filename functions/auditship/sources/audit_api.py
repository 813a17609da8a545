"""The OCI Audit API as a source: `ListEvents` of one compartment in one region, one
window at a time (`sources.windows.Unit`), every page, each event turned into the shape
the `_Audit` log gives it, so a backfilled event looks the same as one the Service
Connector delivered.

ListEvents (oci-python-sdk `audit/audit_client.py`): `GET /20190901/auditEvents` with
`compartmentId`, `startTime`, `endTime` (whole minutes: seconds and fractions must be 0;
events *processed* at or after the start and before the end), `page`; no page size, no
subtree option (each compartment is asked on its own), no retries by default. The client
is built with `skip_deserialization=True` (oci `base_client.py`): pages stay the wire
JSON, camelCase names and fields newer than the SDK included.

The `_Audit` shape (docs/platform.md 1.6 and 7): `id` = eventId, `time` = eventTime,
`type` = eventType, `source`, `specversion` "1.0", `dataschema` = eventTypeVersion,
`data` as the API gives it, and `oracle` = {compartmentid, tenantid, loggroupid
"_Audit"}. The Logging route also has `oracle.ingestedtime` (when Logging took the
event in), which the API does not say: it is left out, not invented.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from auditship.deadline import Deadline
from auditship.retry import RetryPolicy
from auditship.sources.api_requests import API_POLICY, pages
from auditship.sources.throttle import Throttle
from auditship.sources.windows import Unit, parse_moment

SOURCE = "audit"


def audit_log_record(event: dict[str, Any], tenancy: str) -> dict[str, Any]:
    """An AuditEvent of the API in the `_Audit` log's shape (see the module doc)."""
    data = event.get("data")
    data = data if isinstance(data, dict) else {}
    identity = data.get("identity") if isinstance(data.get("identity"), dict) else {}
    oracle = {
        "compartmentid": data.get("compartmentId"),
        "loggroupid": "_Audit",
        "tenantid": (identity or {}).get("tenantId") or tenancy,
    }
    return {
        "data": data,
        "dataschema": event.get("eventTypeVersion"),
        "id": event.get("eventId"),
        "oracle": oracle,
        "source": event.get("source", ""),
        "specversion": "1.0",
        "time": event.get("eventTime"),
        "type": event.get("eventType"),
    }


class AuditApiSource:
    """What the collector needs of the Audit API (see `collector.ApiSource`)."""

    name = SOURCE
    # The `_Audit` records' Logz.io type and PutLogs type stay those of connector records.

    def __init__(
        self,
        client_for: Callable[[str], Any],
        tenancy: str,
        throttle: Throttle,
        policy: RetryPolicy = API_POLICY,
    ) -> None:
        self._client_for = client_for  # region -> AuditClient(skip_deserialization=True)
        self._tenancy = tenancy
        self._policy = policy
        self.throttle = throttle

    def pages(self, unit: Unit, deadline: Deadline, margin: float) -> Iterator[list[Any]]:
        client = self._client_for(unit.region)
        return pages(
            lambda token: client.list_events(
                unit.compartment, start_time=unit.start, end_time=unit.end, page=token
            ),
            f"audit events of {unit}",
            throttle=self.throttle,
            deadline=deadline,
            margin=margin,
            policy=self._policy,
        )

    def identify(self, raw: dict[str, Any]) -> tuple[str | None, datetime | None]:
        """The event's id (for dropping what an earlier run shipped) and its own time (for
        the asked range's edges)."""
        event_id = raw.get("eventId")
        return (event_id if isinstance(event_id, str) else None), parse_moment(raw.get("eventTime"))

    def record(self, raw: dict[str, Any]) -> dict[str, Any]:
        return audit_log_record(raw, self._tenancy)
