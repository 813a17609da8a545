"""auditship: the one shared core of the OCI audit shippers.

A record's path through the package follows its folders:

    sources/     where records come from: local files, Object Storage objects (ranged
                 GETs that resume), the object source (read -> decode -> windows), replays
    transforms/  decode (gunzip) -> repair (split concatenated JSON) -> normalize (time,
                 filter, redaction) -> prepare (the sink's format; C fast path for Logz.io)
    pipeline     the thin orchestrator every source feeds: accounting -> batcher -> sender
    delivery/    batcher (pure), sender (its own thread, the retry policy), dead letters
    sinks/       Logz.io, OCI Logging (PutLogs), stdout
    state/       ledger (done/progress markers, leases), accounting (every position once)
    entrypoints/ the fdk handler, the operator command, payloads, wiring
    shipping     the object job around the pipeline: markers, lease, resume

Every record ends up delivered or dead-lettered with its reason; `retry` holds the one
retry policy and `timeouts` the total time limit of every request.
"""

__version__ = "0.1.0"
