"""auditship: the one shared core of the OCI audit shippers.

A record's path through the package follows the folder layout:

    sources  -> decode   -> repair        -> normalize -> batch -> sinks/*
    (bytes)     (gunzip)    (split JSON)     (time, type,          (Logz.io, OCI Logging,
                                              filter, redact)       stdout)

`pipeline.ship_object` wires the stages for one object; `handler` adapts it to fdk and
`cli` to the operator command. Every record ends up delivered or dead-lettered
(`deadletter`); `ledger` makes a second event for a processed object a no-op.
"""

__version__ = "0.1.0"
