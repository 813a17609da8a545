"""auditship: the one shared core of the OCI audit shippers.

A record's path through the package follows the module layout:

    sources   bytes of an object (Object Storage ranged GETs, or a local file)
    decode    streaming gunzip (multi-member; plain objects pass through)
    repair    concatenated / NDJSON / pretty / array JSON -> one record at a time
    normalize event time, action filter, redaction
    prepare   the sink's own format, in process or in worker processes
    pipeline  batches, retries, accounting: delivered or dead-lettered, in order
    sinks/    Logz.io, OCI Logging (PutLogs), stdout

`pipeline.ship_object` wires the stages for one object; `runner` ships an invocation's
objects; `handler` adapts it to fdk and `cli` to the operator command. Every record ends
up delivered or dead-lettered (`deadletter`); `ledger` makes a second event for a
processed object a no-op.
"""

__version__ = "0.1.0"
