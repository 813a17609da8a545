"""OCI Function: collect Oracle Data Safe audit events (Database Vault included) from every
subscribed region, incrementally by collection time.

Run by a Resource Scheduler schedule with `{}` (catch up from the checkpoint in the bucket)
or by an operator with `{"datasafe": {"since": ..., "until": ...}}`. The code lives in the
shared package `auditship` (functions/auditship); run `python scripts/vendor_core.py` before
`fn deploy` to copy it into this folder.
"""

from auditship.entrypoints.collector import make_collector_handler

handler = make_collector_handler("datasafe")
