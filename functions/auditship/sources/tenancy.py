"""Where an API source asks: the tenancy's subscribed regions and its compartments.

- Regions: `ListRegionSubscriptions`, those whose status is READY (a region being
  subscribed has no data yet), narrowed to `wanted` when given (a wanted region that is not
  subscribed and READY is an error, not silently skipped).
- Compartments: the scope compartment and every compartment below it, at any depth.
  `ListCompartments` takes `compartmentIdInSubtree=true` only on the tenancy (the root),
  so the whole tree is listed once from the root (`accessLevel=ACCESSIBLE`, every page)
  and the scope's subtree is taken from it by parent links. The root is not in that
  listing: it is added (its own events are asked for too). Deleted compartments are left
  out (`lifecycleState` DELETED).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from auditship.deadline import Deadline
from auditship.errors import ConfigError
from auditship.sources.api_requests import pages
from auditship.sources.throttle import Throttle


@dataclass(frozen=True)
class Scope:
    """What one run collects: compartments (the scope's subtree) in regions."""

    tenancy: str
    root: str  # the compartment asked for (the tenancy for the whole tenancy)
    regions: tuple[str, ...]
    compartments: tuple[str, ...]

    @property
    def keys(self) -> list[str]:
        return [f"{r}/{c}" for r in self.regions for c in self.compartments]


def subscribed_regions(
    identity: Any, tenancy: str, wanted: Iterable[str], throttle: Throttle, deadline: Deadline
) -> tuple[str, ...]:
    found: list[dict[str, Any]] = []
    what = "listing the tenancy's region subscriptions"
    for page in pages(
        lambda _token: identity.list_region_subscriptions(tenancy),
        what,
        throttle=throttle,
        deadline=deadline,
    ):
        found.extend(page)
    ready = [r["regionName"] for r in found if r.get("status") == "READY"]
    asked = [w for w in wanted if w]
    if not asked:
        return tuple(sorted(ready))
    missing = sorted(set(asked) - set(ready))
    if missing:
        raise ConfigError(
            f"region(s) {', '.join(missing)} are not subscribed and READY in this tenancy "
            f"(READY: {', '.join(sorted(ready)) or 'none'})"
        )
    return tuple(dict.fromkeys(asked))


def compartment_tree(
    identity: Any, tenancy: str, root: str, throttle: Throttle, deadline: Deadline
) -> tuple[str, ...]:
    """`root` and every accessible, not deleted compartment below it (any depth), root
    first, then in the order a breadth-first walk meets them."""
    children: dict[str, list[str]] = defaultdict(list)
    known = {tenancy}
    for page in pages(
        lambda token: identity.list_compartments(
            tenancy,
            compartment_id_in_subtree=True,
            access_level="ACCESSIBLE",
            page=token,
            limit=1000,
        ),
        "listing the tenancy's compartments",
        throttle=throttle,
        deadline=deadline,
    ):
        for c in page:
            if c.get("lifecycleState") == "DELETED":
                continue
            known.add(c["id"])
            children[c.get("compartmentId") or tenancy].append(c["id"])
    if root not in known:
        raise ConfigError(
            f"compartment {root} is not in this tenancy, deleted, or not accessible to these "
            "credentials (they need inspect compartments)"
        )
    order, queue = [], [root]
    while queue:
        current = queue.pop(0)
        order.append(current)
        queue.extend(sorted(children.get(current, ())))
    return tuple(order)
