"""Fake OCI Audit API (ListEvents), one real HTTP/1.1 server for several regions.

The real `oci.audit.AuditClient` talks to it with `service_endpoint=f"{fake.url}/{region}"`: the
SDK appends its base path `/20190901` and the resource path, so requests arrive at
`/<region>/20190901/auditEvents`. A request without the region prefix
(`service_endpoint=fake.url`) is served as `default_region`. With `regions=` given, any other
region prefix -> 404 NotFound (like a host that does not exist).

* `GET [/<region>]/20190901/auditEvents?compartmentId=&startTime=&endTime=&page=` (ListEvents):
  - `compartmentId`, `startTime`, `endTime` are required -> 400 MissingParameter naming it; any
    other query parameter -> 400 InvalidParameter (the SDK sends no others);
  - `startTime`/`endTime` must be RFC 3339 date-times whose seconds and fractional seconds are
    zero: the API "only takes values with granularity to the minute" (SDK docstring) -> 400
    InvalidParameter naming the parameter; `endTime` must be after `startTime` (400), and, with
    `max_window` (a timedelta) set, at most that far after it (400);
  - an unknown compartment -> 404 NotAuthorizedOrNotFound. Known compartments: those given as
    `compartments=`, plus every compartment that got events (`add_event`/`populate`); with
    `compartments=None` (the default) every compartment is known (empty when it has no events);
  - a compartment in `fail_compartments` -> 500 InternalServerError, every time;
  - otherwise 200 with a JSON list of AuditEvent (wire names: `eventType`,
    `cloudEventsVersion`, `eventTypeVersion`, `source`, `eventId`, `eventTime`, `contentType`,
    `data{...}`) of the events of that region AND that compartment only (not its
    subcompartments) whose processing time is in [startTime, endTime), ordered by
    (processing time, eventId), `page_size` per page (default 50); when more remain the answer
    carries `opc-next-page`, and `page` takes that opaque token (HMAC-signed, bound to the
    region/compartment/window it was minted for; anything else -> 400 InvalidParameter).
  The processing time (`processed=`) is when the service processed the event - what ListEvents
  filters on ("events processed at or after startTime"); it defaults to `eventTime` and is not
  part of the wire JSON.
* `GET [/<region>]/20190901/configuration` (GetConfiguration) -> `{"retentionPeriodDays": 365}`.

No `authorization` header -> 401 NotAuthenticated (the signature is not verified). Errors are
OCI's JSON `{"code": ..., "message": ...}`; every answer carries `opc-request-id`.

Load and faults: `latency` seconds (constructor, settable) are slept in every request (cut short
by `stop()`); `throttle(n, retry_after)` scripts `n` answers 429 TooManyRequests with a
`retry-after` header and `throttle_every=k` answers every k-th request so; scripted actions
(`script([...])`, see `fakes`: `429`, `(429, {"retry-after": "1"})`, `500`, `"reset"`,
`"timeout"`, `("trickle", s)`, `"ok"`) are consumed one per request, in arrival order, before
everything else. Every request is recorded in `requests` (`AuditRequest`: region, compartment,
start, end, page, status, events...); `in_flight` / `max_in_flight` count concurrent requests
(between the request line being read and the answer being sent) so tests can assert
parallelism. Built on `ThreadingHTTPServer` (a thread per connection).

Events: `add_event(region, compartment_id, event, processed=None)` stores one wire-JSON event
(`make_event(...)` builds a realistic one: nested data, unicode, a big integer);
`populate(regions, compartments, start, end, per_hour, seed=0)` adds events that are generated
lazily and deterministically (from the seed, region, compartment and index: nothing is stored,
every identical query gets identical bytes), one per `3600 / per_hour` seconds slot, with a
processing delay of 0-90 s after `eventTime`. `events(...)`, `count_events(...)` answer what
ListEvents would return, for assertions.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import heapq
import hmac
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

from . import OCI_ERROR_CODES, FakeHandler, FakeHTTPServer, OciError, not_authenticated

__all__ = ["AuditRequest", "FakeAuditApi", "make_event"]

_PATH = re.compile(r"^(?:/([a-z][a-z0-9-]*[0-9]))?/20190901/(auditEvents|configuration)$")
_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_QUERY_PARAMS = ("compartmentId", "startTime", "endTime", "page")

_CODES = OCI_ERROR_CODES

#: (source, eventName, HTTP method, resource kind, request path template)
_CATALOG: tuple[tuple[str, str, str, str, str], ...] = (
    ("ComputeApi", "LaunchInstance", "POST", "instance", "/20160918/instances"),
    ("ComputeApi", "TerminateInstance", "DELETE", "instance", "/20160918/instances/{id}"),
    ("ComputeApi", "UpdateInstance", "PUT", "instance", "/20160918/instances/{id}"),
    ("IdentityControlPlane", "UpdateUser", "PUT", "user", "/20160918/users/{id}"),
    ("IdentityControlPlane", "CreatePolicy", "POST", "policy", "/20160918/policies"),
    ("IdentitySignOn", "InteractiveLogin", "POST", "user", "/v1/authentication/login"),
    (
        "VirtualNetworkApi",
        "UpdateSecurityList",
        "PUT",
        "securitylist",
        "/20160918/securityLists/{id}",
    ),
    ("ObjectStorage", "CreateBucket", "POST", "bucket", "/n/acme/b"),
    ("ObjectStorage", "DeleteObject", "DELETE", "object", "/n/acme/b/logs/o/{id}"),
    (
        "KeyManagementService",
        "ScheduleKeyDeletion",
        "POST",
        "key",
        "/20180608/keys/{id}/actions/scheduleDeletion",
    ),
)
_PRINCIPALS = (
    "jöhn.døe@example.com",
    "渡辺さくら@example.jp",
    "Ólafur Ragnarsson",
    "mary-ann o'brien",
    "zoë 🚀 ops",
    "svc-terraform",
    'Dr. "quoted" \\ backslash',
)
_AGENTS = (
    "Oracle-PythonSDK/2.189.0",
    "Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-oci/6.0.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0",
    "Oracle-JavaSDK/3.44.0 (Linux/5.15; Java/17)",
)


def _to_us(when: datetime) -> int:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _rfc3339(when: datetime) -> str:
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_event_time(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def _ocid(kind: str, region: str, rng: random.Random) -> str:
    short = {"us-ashburn-1": "iad", "us-phoenix-1": "phx", "eu-frankfurt-1": "fra"}.get(
        region, region.split("-")[1][:3] if "-" in region else region[:3]
    )
    tail = base64.b32encode(rng.getrandbits(300).to_bytes(38, "big")).decode().lower()[:60]
    return f"ocid1.{kind}.oc1.{short}.{tail}"


def make_event(
    *,
    event_time: datetime,
    compartment_id: str,
    compartment_name: str = "audit-test",
    region: str = "us-ashburn-1",
    tenancy_id: str = "ocid1.tenancy.oc1..aaaaaaaatesttenancy",
    event_name: str | None = None,
    source: str | None = None,
    event_id: str | None = None,
    seed: int | str | None = None,
) -> dict[str, Any]:
    """A realistic AuditEvent in wire JSON (camelCase), as ListEvents answers it.

    Deterministic for a given `seed` (random otherwise). The catalog picks the source/eventName
    unless given; `data` carries identity, request, response (`status` is a string, as the model
    says), stateChange and additionalDetails with unicode, nested values and an integer above
    2**64. `eventType` is `com.oraclecloud.<source>.<eventName>`.
    """
    rng = random.Random(seed)
    pick = rng.choice(_CATALOG)
    src = source or pick[0]
    name = event_name or pick[1]
    method, kind, path_template = pick[2], pick[3], pick[4]
    resource_id = _ocid(kind, region, rng)
    resource_name = f"{kind}-{rng.randrange(10_000):04d}-ünïcødé"
    principal = rng.choice(_PRINCIPALS)
    request_id = uuid.UUID(int=rng.getrandbits(128)).hex.upper()
    when = event_time if event_time.tzinfo else event_time.replace(tzinfo=UTC)
    response_time = when + timedelta(milliseconds=rng.randrange(5, 900))
    status = rng.choice(("200", "200", "200", "204", "400", "404", "409"))
    ip = f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
    return {
        "eventType": f"com.oraclecloud.{src}.{name}",
        "cloudEventsVersion": "0.1",
        "eventTypeVersion": "2.0",
        "source": src,
        "eventId": event_id or str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "eventTime": _rfc3339(when),
        "contentType": "application/json",
        "data": {
            "eventGroupingId": request_id if rng.random() < 0.5 else None,
            "eventName": name,
            "compartmentId": compartment_id,
            "compartmentName": compartment_name,
            "resourceName": resource_name,
            "resourceId": resource_id,
            "availabilityDomain": f"Uocm:{region.upper()}-AD-{rng.randrange(1, 4)}",
            "freeformTags": {"team": "sécurité", "cost-center": str(rng.randrange(100, 999))},
            "definedTags": {
                "Operations": {"CreatedBy": principal, "Tier": rng.choice(("gold", "bronze"))}
            },
            "identity": {
                "principalName": principal,
                "principalId": _ocid("user", region, rng),
                "authType": rng.choice(("natv", "fed", "x509")),
                "callerName": None,
                "callerId": None,
                "tenantId": tenancy_id,
                "ipAddress": ip,
                "credentials": f"ocid1.credential.oc1..{rng.getrandbits(64):x}",
                "userAgent": rng.choice(_AGENTS),
                "consoleSessionId": f"csid{rng.getrandbits(96):024x}"
                if rng.random() < 0.3
                else None,
            },
            "request": {
                "id": request_id,
                "path": path_template.format(id=resource_id),
                "action": method,
                "parameters": {"compartmentId": [compartment_id], "limit": ["100"]},
                "headers": {
                    "opc-request-id": [request_id],
                    "User-Agent": [rng.choice(_AGENTS)],
                    "Accept-Language": ["fr-CA,fr;q=0.9,日本語;q=0.5"],
                },
            },
            "response": {
                "status": status,
                "responseTime": _rfc3339(response_time),
                "headers": {
                    "opc-request-id": [request_id],
                    "Content-Type": ["application/json"],
                    "Content-Length": [str(rng.randrange(64, 8192))],
                },
                "payload": {"resourceName": resource_name, "id": resource_id},
                "message": None if status.startswith("2") else f"{name} failed: «{status}»",
            },
            "stateChange": {
                "previous": {"lifecycleState": "PROVISIONING", "displayName": resource_name},
                "current": {
                    "lifecycleState": "RUNNING",
                    "displayName": resource_name,
                    "shapeConfig": {"ocpus": 2.0, "memoryInGBs": 32.0, "nested": {"a": [1, 2]}},
                },
            },
            "additionalDetails": {
                "X-Real-Port": rng.randrange(1024, 65536),
                "bytesTransferred": 2**70 + rng.randrange(10**6),
                "note": "tab\there, newline\nhere, nul-free, emoji 🎉, rtl עברית",
            },
        },
    }


@dataclass
class AuditRequest:
    """One request as the fake saw it (the authorization header is never stored)."""

    method: str
    path: str  #: path without the query string
    query: dict[str, str]
    region: str | None = None
    compartment_id: str | None = None
    start: datetime | None = None  #: parsed startTime (None if absent or invalid)
    end: datetime | None = None
    page: str | None = None  #: the `page` token sent, if any
    status: int | None = None  #: None when the connection was reset
    code: str | None = None  #: OCI error code answered, if any
    events: int = 0  #: events in the answer
    next_page: str | None = None  #: `opc-next-page` answered, if any
    action: str = "ok"
    elapsed: float = 0.0  #: seconds spent in the fake (including `latency`)


@dataclass(frozen=True)
class _Series:
    """Lazily generated events: one per `step_us` slot from `start_us`, `count` slots."""

    region: str
    compartment_id: str
    compartment_name: str
    tenancy_id: str
    start_us: int
    step_us: int
    count: int
    seed: int

    def _hash(self, i: int) -> bytes:
        text = f"{self.seed}|{self.region}|{self.compartment_id}|{i}".encode()
        return hashlib.blake2b(text, digest_size=24).digest()

    def key(self, i: int) -> tuple[int, str]:
        digest = self._hash(i)
        processed = (
            self.start_us + i * self.step_us + (int.from_bytes(digest[:8], "big") % self.step_us)
        )
        event_id = str(uuid.UUID(bytes=digest[8:24], version=4))
        return processed, event_id

    def body(self, i: int, key: tuple[int, str]) -> bytes:
        processed, event_id = key
        digest = self._hash(i)
        delay_us = int.from_bytes(digest[:4], "big") % 90_000_001  # 0 to 90 s
        event = make_event(
            event_time=_from_us(processed - delay_us),
            compartment_id=self.compartment_id,
            compartment_name=self.compartment_name,
            region=self.region,
            tenancy_id=self.tenancy_id,
            event_id=event_id,
            seed=int.from_bytes(digest, "big"),
        )
        return json.dumps(event, ensure_ascii=False).encode()

    def iter_from(
        self, low: tuple[int, str], inclusive: bool, end_us: int
    ) -> Iterator[tuple[tuple[int, str], Callable[[], bytes]]]:
        """(key, body thunk) for keys >= low (> low unless inclusive) and processed < end_us."""
        i = max(0, (low[0] - self.start_us) // self.step_us)
        while i < self.count:
            key = self.key(i)
            if key[0] >= end_us:
                return
            if key > low or (inclusive and key == low):
                yield key, (lambda i=i, key=key: self.body(i, key))
            i += 1


@dataclass
class _Bucket:
    """Stored events of one (region, compartment), kept sorted by (processed, eventId)."""

    keys: list[tuple[int, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)

    def insert(self, key: tuple[int, str], body: bytes) -> None:
        at = bisect.bisect_right(self.keys, key)
        self.keys.insert(at, key)
        self.bodies.insert(at, body)

    def iter_from(
        self, low: tuple[int, str], inclusive: bool, end_us: int
    ) -> Iterator[tuple[tuple[int, str], Callable[[], bytes]]]:
        keys, bodies = list(self.keys), list(self.bodies)  # snapshot (called under the lock)
        at = bisect.bisect_left(keys, low) if inclusive else bisect.bisect_right(keys, low)

        def generate() -> Iterator[tuple[tuple[int, str], Callable[[], bytes]]]:
            for j in range(at, len(keys)):
                if keys[j][0] >= end_us:
                    return
                yield keys[j], (lambda body=bodies[j]: body)

        return generate()


class _AuditHandler(FakeHandler):
    owner: FakeAuditApi  # type: ignore[assignment]

    def do_GET(self) -> None:
        owner = self.owner
        self.read_body()
        began = time.monotonic()
        owner._enter()
        try:
            self._serve(began)
        finally:
            owner._leave()

    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET

    def _serve(self, began: float) -> None:
        owner = self.owner
        action = owner._next_action()
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        request_id = self.headers.get("opc-request-id") or uuid.uuid4().hex.upper()
        rec = AuditRequest(self.command, path, query, action=action.describe())
        rec.compartment_id = query.get("compartmentId")
        rec.page = query.get("page")
        latency = owner.latency
        if latency > 0:
            owner._stopping.wait(latency)
        if action.kind == "trickle":
            self.trickle(action)
            return
        if action.kind == "reset":
            owner._record(rec, began)
            self.reset_connection()
            return
        if action.kind == "status":
            assert action.status is not None
            self._answer(
                rec,
                began,
                request_id,
                action.status,
                None,
                action.headers,
                action.body,
                "Scripted failure",
            )
            return
        if action.kind == "timeout":
            self.hang(action)
            if owner.hang_status is not None:
                self._answer(
                    rec, began, request_id, owner.hang_status, None, {}, None, "Scripted failure"
                )
                return
        try:
            body, headers = owner._handle(rec, dict(self.headers.items()))
        except OciError as exc:
            self._answer(
                rec, began, request_id, exc.status, exc.code, exc.headers, None, exc.message
            )
            return
        self._answer(rec, began, request_id, 200, None, headers, body, "")

    def _answer(
        self,
        rec: AuditRequest,
        began: float,
        request_id: str,
        status: int,
        code: str | None,
        headers: Mapping[str, str],
        body: bytes | None,
        message: str,
    ) -> None:
        rec.status = status
        if status >= 400:
            rec.code = code or _CODES.get(status, "Error")
            if body is None:
                body = json.dumps({"code": rec.code, "message": message}).encode()
        self.owner._record(rec, began)
        self.send_simple(
            status,
            body or b"",
            content_type="application/json",
            headers={"opc-request-id": request_id, **dict(headers)},
        )


class FakeAuditApi(FakeHTTPServer):
    """Fake Audit ListEvents for several regions on one port. See the module docstring.

    Args:
        default_region: the region served for paths without a region prefix.
        regions: if given, the only region prefixes served (others -> 404 NotFound).
        compartments: known compartment ids (None: every compartment is known).
        page_size: events per page (default 50).
        max_window: reject `endTime - startTime` longer than this with 400 (None: no limit).
        latency: seconds slept in every request (settable attribute).
        fail_compartments: compartment ids that always answer 500 (settable set).
        throttle_every: answer every k-th request 429 with `retry-after` (None: never).
        retry_after: the `retry-after` value (seconds) of those 429s.
        tenancy_id: written into generated events' `data.identity.tenantId`.
        hang_seconds / hang_status / host: see `fakes.FakeHTTPServer`.

    Attributes: `url`, `requests` (AuditRequest per request), `in_flight`, `max_in_flight`,
    `latency`, `fail_compartments`, `throttle_every`, `connections`, `errors`.
    Methods: `start()`, `stop()`, context manager, `script([...])`, `throttle(n)`,
    `add_event(...)`, `populate(...)`, `events(...)`, `count_events(...)`, `clear()`,
    `wait_for_requests(n)`, `requests_for(region=, compartment_id=)`.
    """

    handler_class: ClassVar[type[FakeHandler]] = _AuditHandler

    def __init__(
        self,
        default_region: str = "us-ashburn-1",
        *,
        regions: Iterable[str] | None = None,
        compartments: Iterable[str] | None = None,
        page_size: int = 50,
        max_window: timedelta | None = None,
        latency: float = 0.0,
        fail_compartments: Iterable[str] = (),
        throttle_every: int | None = None,
        retry_after: int = 1,
        tenancy_id: str = "ocid1.tenancy.oc1..aaaaaaaatesttenancy",
        hang_seconds: float = 5.0,
        hang_status: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host=host, hang_seconds=hang_seconds, hang_status=hang_status)
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.default_region = default_region
        self.regions = frozenset(regions) if regions is not None else None
        self.known_compartments: set[str] | None = (
            set(compartments) if compartments is not None else None
        )
        self.page_size = page_size
        self.max_window = max_window
        self.latency = latency
        self.fail_compartments: set[str] = set(fail_compartments)
        self.throttle_every = throttle_every
        self.retry_after = retry_after
        self.tenancy_id = tenancy_id
        self.requests: list[AuditRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._served = 0
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._series: dict[tuple[str, str], list[_Series]] = {}
        self._secret = os.urandom(16)
        self._flight_lock = threading.Lock()

    # -- events ----------------------------------------------------------------------------------
    def add_event(
        self,
        region: str,
        compartment_id: str,
        event: Mapping[str, Any],
        processed: datetime | None = None,
    ) -> dict[str, Any]:
        """Store one wire-JSON event; `processed` defaults to its `eventTime`. Returns it."""
        doc = dict(event)
        if not isinstance(doc.get("eventId"), str) or not isinstance(doc.get("eventTime"), str):
            raise ValueError("an audit event needs string eventId and eventTime")
        when = processed or _parse_event_time(doc["eventTime"])
        body = json.dumps(doc, ensure_ascii=False).encode()
        with self._lock:
            bucket = self._buckets.setdefault((region, compartment_id), _Bucket())
            bucket.insert((_to_us(when), doc["eventId"]), body)
            if self.known_compartments is not None:
                self.known_compartments.add(compartment_id)
        return doc

    def populate(
        self,
        regions: Iterable[str],
        compartments: Iterable[str] | Mapping[str, str],
        start: datetime,
        end: datetime,
        per_hour: int,
        *,
        seed: int = 0,
    ) -> int:
        """Add lazily generated events to every (region, compartment); returns how many.

        Each (region, compartment) gets one event per `3600 / per_hour` seconds slot of
        [start, end) (processing time at a deterministic point of its slot). `compartments`
        may map ids to names (written into `data.compartmentName`).
        """
        if per_hour < 1 or end <= start:
            raise ValueError("per_hour must be >= 1 and end after start")
        names = (
            dict(compartments)
            if isinstance(compartments, Mapping)
            else {c: c.rsplit(".", 1)[-1][-12:] for c in compartments}
        )
        step_us = 3_600_000_000 // per_hour
        start_us, end_us = _to_us(start), _to_us(end)
        count = (end_us - start_us) // step_us
        regions = list(regions)
        with self._lock:
            for region in regions:
                for compartment_id, name in names.items():
                    series = _Series(
                        region=region,
                        compartment_id=compartment_id,
                        compartment_name=name,
                        tenancy_id=self.tenancy_id,
                        start_us=start_us,
                        step_us=step_us,
                        count=count,
                        seed=seed,
                    )
                    self._series.setdefault((region, compartment_id), []).append(series)
                    if self.known_compartments is not None:
                        self.known_compartments.add(compartment_id)
        return count * len(regions) * len(names)

    def events(
        self,
        region: str,
        compartment_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """The events ListEvents would return for this query, all pages, in order."""
        return [json.loads(thunk()) for _, thunk in self._iter(region, compartment_id, start, end)]

    def count_events(
        self,
        region: str,
        compartment_id: str,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> int:
        """How many events ListEvents would return for this query (cheap: no event is built)."""
        return sum(1 for _ in self._iter(region, compartment_id, start, end))

    # -- faults, records ---------------------------------------------------------------------------
    def throttle(self, n: int = 1, retry_after: int | None = None) -> None:
        """Script the next `n` requests to answer 429 TooManyRequests with `retry-after`."""
        seconds = self.retry_after if retry_after is None else retry_after
        self.script([(429, {"retry-after": str(seconds)})] * n)

    def requests_for(
        self, region: str | None = None, compartment_id: str | None = None
    ) -> list[AuditRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if (region is None or r.region == region)
                and (compartment_id is None or r.compartment_id == compartment_id)
            ]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least `n` requests were recorded."""
        return self._wait(lambda: len(self.requests) >= n, timeout)

    def clear(self) -> None:
        """Forget recorded requests and the in-flight maximum (events and script are kept)."""
        with self._lock:
            self.requests.clear()
        with self._flight_lock:
            self.max_in_flight = self.in_flight

    # -- internals ---------------------------------------------------------------------------------
    def _enter(self) -> None:
        with self._flight_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._flight_lock:
            self.in_flight -= 1

    def _record(self, rec: AuditRequest, began: float) -> None:
        rec.elapsed = time.monotonic() - began
        with self._lock:
            self.requests.append(rec)
        self._notify()

    def _iter(
        self,
        region: str,
        compartment_id: str,
        start: datetime | None,
        end: datetime | None,
        after: tuple[int, str] | None = None,
    ) -> Iterator[tuple[tuple[int, str], Callable[[], bytes]]]:
        start_us = _to_us(start) if start is not None else -(2**62)
        end_us = _to_us(end) if end is not None else 2**62
        low, inclusive = ((start_us, ""), True) if after is None else (after, False)
        if after is not None and after[0] < start_us:
            low, inclusive = (start_us, ""), True
        with self._lock:
            sources: list[Iterator[tuple[tuple[int, str], Callable[[], bytes]]]] = []
            bucket = self._buckets.get((region, compartment_id))
            if bucket is not None:
                sources.append(bucket.iter_from(low, inclusive, end_us))
            for series in self._series.get((region, compartment_id), ()):
                sources.append(series.iter_from(low, inclusive, end_us))
        return heapq.merge(*sources, key=lambda item: item[0])

    def _handle(
        self, rec: AuditRequest, headers: Mapping[str, str]
    ) -> tuple[bytes, dict[str, str]]:
        if rec.method != "GET":
            raise OciError(404, "NotFound", "Unknown resource")
        if not any(k.lower() == "authorization" for k in headers):
            raise not_authenticated()
        match = _PATH.match(rec.path)
        if match is None:
            raise OciError(404, "NotFound", "Unknown resource")
        region = match.group(1) or self.default_region
        rec.region = region
        if self.regions is not None and region not in self.regions:
            raise OciError(404, "NotFound", f"Unknown region {region}")
        if match.group(2) == "configuration":
            return json.dumps({"retentionPeriodDays": 365}).encode(), {}
        query = rec.query
        with self._lock:
            self._served += 1
            served = self._served
        if self.throttle_every and served % self.throttle_every == 0:
            raise OciError(
                429,
                "TooManyRequests",
                "Too many requests for the tenancy",
                {"retry-after": str(self.retry_after)},
            )
        for name in ("compartmentId", "startTime", "endTime"):
            if not query.get(name):
                raise OciError(400, "MissingParameter", f"Missing required parameter {name}")
        unknown = sorted(set(query) - set(_QUERY_PARAMS))
        if unknown:
            raise OciError(400, "InvalidParameter", f"Unknown query parameters {unknown}")
        start = _parse_minute("startTime", query["startTime"])
        end = _parse_minute("endTime", query["endTime"])
        rec.start, rec.end = start, end
        if end <= start:
            raise OciError(400, "InvalidParameter", "endTime must be after startTime")
        if self.max_window is not None and end - start > self.max_window:
            raise OciError(
                400,
                "InvalidParameter",
                f"The time range endTime - startTime exceeds {self.max_window}",
            )
        compartment_id = query["compartmentId"]
        with self._lock:
            known = self.known_compartments is None or compartment_id in self.known_compartments
        if not known:
            raise OciError(
                404,
                "NotAuthorizedOrNotFound",
                "Authorization failed or requested resource not found.",
            )
        if compartment_id in self.fail_compartments:
            raise OciError(500, "InternalServerError", "Internal error")
        signature = [region, compartment_id, _to_us(start), _to_us(end)]
        after = None
        if "page" in query:
            after = self._decode_token(query["page"], signature)
        page: list[bytes] = []
        last: tuple[int, str] | None = None
        more = False
        for key, thunk in self._iter(region, compartment_id, start, end, after):
            if len(page) == self.page_size:
                more = True
                break
            page.append(thunk())
            last = key
        answer_headers: dict[str, str] = {}
        if more and last is not None:
            rec.next_page = self._mint_token(last, signature)
            answer_headers["opc-next-page"] = rec.next_page
        rec.events = len(page)
        return b"[" + b",".join(page) + b"]", answer_headers

    def _mint_token(self, last: tuple[int, str], signature: list[Any]) -> str:
        payload = base64.urlsafe_b64encode(
            json.dumps({"k": list(last), "q": signature}).encode()
        ).decode()
        mac = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{payload}.{mac}"

    def _decode_token(self, token: str, signature: list[Any]) -> tuple[int, str]:
        payload, _, mac = token.rpartition(".")
        expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()[:24]
        if not payload or not hmac.compare_digest(mac, expected):
            raise OciError(400, "InvalidParameter", "Invalid page token")
        doc = json.loads(base64.urlsafe_b64decode(payload))
        if doc.get("q") != signature:
            raise OciError(400, "InvalidParameter", "The page token does not belong to this query")
        return int(doc["k"][0]), str(doc["k"][1])


def _parse_minute(name: str, raw: str) -> datetime:
    """Parse an RFC 3339 date-time that must have zero seconds and fractional seconds."""
    match = _RFC3339.match(raw)
    if match is None:
        raise OciError(400, "InvalidParameter", f"{name} must be an RFC 3339 date-time: {raw!r}")
    minute, seconds, fraction, zone = match.groups()
    if seconds != "00" or (fraction and fraction.strip("0")):
        raise OciError(
            400,
            "InvalidParameter",
            f"{name} only takes whole minutes: seconds and milliseconds must be 0 ({raw!r})",
        )
    try:
        when = datetime.fromisoformat(minute + ":00" + ("+00:00" if zone == "Z" else zone))
    except ValueError:
        raise OciError(
            400, "InvalidParameter", f"{name} is not a valid date-time: {raw!r}"
        ) from None
    return when.astimezone(UTC)
