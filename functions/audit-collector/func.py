"""OCI Function: collect OCI Audit API events (all subscribed regions, all compartments).

Run by a Resource Scheduler schedule with `{}` (catch up from the checkpoint) or by an operator
with `{"audit": {"since": ..., "until": ...}}` (a backfill it fans out by invoking itself
detached). The code lives in the shared package `auditship` (functions/auditship); run
`python scripts/vendor_core.py` before `fn deploy` to copy it into this folder.
"""

from auditship.entrypoints.collector import make_collector_handler

handler = make_collector_handler("audit")
