"""The object listing of a sweep (`sweep.py`): page by page through the real SDK, with the
times the grace period needs, stepping over our own prefixes, stopping when told to.

Memory holds one page. Each page goes through the small-object time limit and retry policy
(`objectstore.storage_call`). When a listed name is under one of our own prefixes (the
ledger, dead letters, collector state), the listing resumes past that prefix instead of
paging through every marker in it. When `stop()` says so (the deadline is near), the
listing ends before the next object, and `resume_from` names it, so a continuation lists
exactly what this one did not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from auditship.errors import SourceError
from auditship.model import ObjectRef
from auditship.objectstore import storage_call
from auditship.sweep import Listed, past_prefix

LIST_PAGE_SIZE = 1000  # the most ListObjects answers at once
LISTED_FIELDS = "name,etag,timeCreated,timeModified"


class SweepListing:
    """The objects under `where.name` in `where`'s bucket, from `start` on (inclusive), in
    name order, as `sweep.Listed`, skipping the names under any of `skip`. Iterate once;
    afterwards `resume_from` is the first name not listed when `stop()` ended it early
    (None when the listing reached its end), `skipped` the prefixes stepped over."""

    def __init__(
        self,
        client: Any,
        where: ObjectRef,
        *,
        skip: tuple[str, ...] = (),
        start: str = "",
        page_size: int = LIST_PAGE_SIZE,
        stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self._client = client
        self._where = where
        self._skip = tuple(p for p in skip if p)
        self._start = start
        self._page_size = page_size
        self._stop = stop
        self.resume_from: str | None = None
        self.skipped: list[str] = []
        self.pages = 0

    def _page(self, start: str | None) -> Any:
        import oci

        where = self._where

        def ask() -> Any:
            return self._client.list_objects(
                where.namespace, where.bucket, prefix=where.name, start=start,
                limit=self._page_size, fields=LISTED_FIELDS,
            )  # fmt: skip

        self.pages += 1
        try:
            return storage_call(ask, where, "listing objects to sweep").data
        except oci.exceptions.ServiceError as exc:  # 404: an answer to storage_call, not here
            raise SourceError(
                f"{where}: listing objects to sweep failed with HTTP {exc.status} (no such "
                "bucket, or no permission to list it)"
            ) from None

    def __iter__(self) -> Iterator[Listed]:
        start: str | None = self._start or None
        listed = 0
        while True:
            page = self._page(start)
            resume: str | None = None
            for summary in page.objects:
                name = summary.name
                # At least one object per run, so a chain of continuations always advances.
                if listed and self._stop():
                    self.resume_from = name
                    return
                mine = next((p for p in self._skip if name.startswith(p)), None)
                if mine is not None:
                    if mine not in self.skipped:
                        self.skipped.append(mine)
                    resume = past_prefix(mine)
                    if resume is None:
                        return
                    break
                listed += 1
                yield Listed(name, summary.etag or "", _changed(summary))
            start = resume or page.next_start_with
            if not start:
                return


def _changed(summary: Any) -> datetime | None:
    """The later of an object's creation and modification times (an overwrite may keep
    the creation time), in UTC."""
    times = [
        t if t.tzinfo else t.replace(tzinfo=UTC)
        for t in (summary.time_created, summary.time_modified)
        if isinstance(t, datetime)
    ]
    return max(times) if times else None
