"""The reconciliation sweep (`sweep.py`) run by the shipper functions and by the operator
command: the listings, the shipping and the detached invocations wired together.

- Invocation: `{"sweep": "oci://<ns>/<bucket>/<prefix>", "older_than": "15m"}` (what the
  schedule sends; `older_than` defaults to SWEEP_OLDER_THAN). One group of objects (up to
  SWEEP_FANOUT_OBJECTS) is shipped by the sweep itself when it has the time; a larger
  backlog goes, a group at a time, to detached invocations of the same function, each with
  a list of Object-Create events, as the Events service would have sent them (the ETag
  pinned: a part ships the version the sweep saw). When the deadline comes before the
  listing ends, the sweep invokes itself detached with `"start": <the next name>`.
- Operator command: `oci-audit-ship --sweep oci://<ns>/<bucket>/<prefix> --older-than 15m`
  ships every group itself (no deadline, no function to invoke).

The summary line is the shipping summary of what this run shipped itself, with a `sweep`
object: counts by verdict, what was shipped inline, fanned out and continued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from auditship.config import Settings
from auditship.deadline import Deadline
from auditship.entrypoints.events import CREATE_OBJECT
from auditship.entrypoints.fanout import DetachedInvoker
from auditship.errors import AuditShipError, ConfigError
from auditship.model import ObjectRef
from auditship.objectstore import list_names
from auditship.shipping import Runtime, is_bookkeeping, ship_all
from auditship.sources.sweep_listing import LIST_PAGE_SIZE, SweepListing
from auditship.state.cursor_store import StateLocation
from auditship.sweep import (
    Dispatcher,
    SweepRequest,
    Swept,
    Verdict,
    duration_text,
    own_prefix_holding,
    sweep_verdicts,
)

# A function ships its one group itself only with this much time left after the listing;
# with less, the group goes to a detached invocation with a whole deadline of its own.
INLINE_MIN_SECONDS = 60.0
# The listing stops this long (past the deadline margin) before the deadline, leaving time
# to hand over the group it holds and to invoke the continuation.
LISTING_RESERVE_SECONDS = 30.0
EVENT_SOURCE = "oci-audit-ship-sweep"


def own_prefixes(where: ObjectRef, settings: Settings) -> tuple[str, ...]:
    """Every prefix the functions write to in `where`'s bucket: the ledger, dead letters,
    and the collectors' state when STATE_DIR is in the same bucket."""
    own = [settings.ledger_prefix, settings.dead_letter_prefix]
    if settings.state_dir.startswith("oci://"):
        state = StateLocation.parse(settings.state_dir)
        if (state.namespace, state.bucket) == (where.namespace, where.bucket):
            own.append(state.prefix)
    return tuple(dict.fromkeys(p for p in own if p))


def sweep(
    request: SweepRequest,
    runtime: Runtime,
    *,
    settings: Settings,
    storage: Any,
    deadline: Deadline,
    fan_out: Callable[[bytes], None] | None = None,
    page_size: int = LIST_PAGE_SIZE,
    now: datetime | None = None,
) -> Swept:
    """List `request`'s prefix and its ledger in step, ship or hand over what has no done
    marker and is older than the grace period (see the module doc). `fan_out(payload)`
    starts a detached invocation of this function; None ships everything here."""
    where = request.where()
    older_than = request.older_than or settings.sweep_older_than
    own = own_prefixes(where, settings)
    holding = own_prefix_holding(where.name, own)
    if holding is not None:
        raise ConfigError(
            f"{request}: the prefix is under {holding}, where only our own markers, dead "
            "letters and state are; nothing there is shipped"
        )
    runtime = replace(runtime, own_prefixes=own)
    margin = settings.deadline_margin_seconds
    listing = SweepListing(
        storage, where, skip=own, start=request.start, page_size=page_size,
        stop=lambda: deadline.expired(margin + LISTING_RESERVE_SECONDS),
    )  # fmt: skip
    ledger_prefix = settings.ledger_prefix
    ledger_names = list_names(
        storage,
        replace(where, name=ledger_prefix + where.name),
        "listing done markers",
        start=ledger_prefix + request.start if request.start else None,
        page_size=page_size,
    )
    swept = Swept(request, older_than)

    def hand_over(group: list[ObjectRef]) -> None:
        assert fan_out is not None
        fan_out(group_payload(group))

    dispatcher = Dispatcher(
        swept,
        settings.sweep_fanout_objects,
        ship=lambda group: ship_all(group, [], runtime, deadline),
        fan_out=None if fan_out is None else hand_over,
    )
    cutoff = (now or datetime.now(UTC)) - older_than
    verdicts = sweep_verdicts(
        listing, ledger_names, ledger_prefix=ledger_prefix,
        is_own=lambda name: is_bookkeeping(name, runtime), cutoff=cutoff,
    )  # fmt: skip
    try:
        for listed, verdict in verdicts:
            swept.counts.count(verdict)
            if verdict is Verdict.TO_SHIP:
                dispatcher.add(ObjectRef(listed.name, where.namespace, where.bucket, listed.etag))
                if dispatcher.halted:
                    break
    except AuditShipError as exc:  # a listing failed after its retries: hand over what it found
        swept.fail(str(exc))
    dispatcher.finish(inline_ok=deadline.remaining() - margin >= INLINE_MIN_SECONDS)
    swept.skipped_prefixes = tuple(listing.skipped)
    if listing.resume_from is not None and not dispatcher.halted:
        _continue(swept, listing.resume_from, fan_out, deadline)
    return swept


def _continue(
    swept: Swept, resume_from: str, fan_out: Callable[[bytes], None] | None, deadline: Deadline
) -> None:
    """The listing stopped early: a detached sweep lists on from `resume_from`, or, with
    nothing to invoke (the operator command, stopped by a signal), the run says where."""
    if fan_out is None:
        swept.fail(f"listing stopped at {resume_from} ({deadline.why()})")
        return
    payload = {
        "sweep": str(swept.request),
        "older_than": duration_text(swept.older_than),
        "start": resume_from,
    }
    try:
        fan_out(orjson.dumps(payload))
    except AuditShipError as exc:
        swept.fail(f"listing stopped at {resume_from}; continuing it failed ({exc})")
        return
    swept.continued_from = resume_from


def group_payload(group: list[ObjectRef]) -> bytes:
    """A detached invocation's payload: Object-Create events for `group` (the list form
    `events.parse_invocation` takes), each with the ETag the listing showed."""
    events = [
        {
            "cloudEventsVersion": "0.1",
            "eventType": CREATE_OBJECT,
            "source": EVENT_SOURCE,
            "data": {
                "resourceName": obj.name,
                "additionalDetails": {
                    "namespace": obj.namespace,
                    "bucketName": obj.bucket,
                    "eTag": obj.etag,
                },
            },
        }
        for obj in group
    ]
    return orjson.dumps(events)


def sweep_in_function(
    request: SweepRequest,
    runtime: Runtime,
    *,
    settings: Settings,
    clients: Any,
    ctx: Any,
    deadline: Deadline,
) -> Swept:
    """A sweep invocation of a shipper function: fans out to itself."""
    invoker = DetachedInvoker(ctx, clients, settings, deadline)
    return sweep(
        request, runtime, settings=settings, storage=clients.object_storage,
        deadline=deadline, fan_out=invoker,
    )  # fmt: skip
