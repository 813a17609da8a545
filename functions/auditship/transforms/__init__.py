"""Transforms: bytes of a source to records a sink can take, in stream order.

decode    streaming gunzip (multi-member, damage-tolerant; plain bytes pass through)
repair    concatenated / NDJSON / pretty / array JSON -> one record at a time
normalize event time, action filter, redaction
prepare   normalize + the sink's own format, in windows, in this process or workers
fastpath  the same for Logz.io in C (native/), in threads
"""
