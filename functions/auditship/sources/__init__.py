"""Sources: where records come from.

A source produces `transforms.prepare.Window`s: the records it found, each prepared for the
sink, and the stretches that are not records (rejects), in stream order with their
positions. From there one path batches, sends and accounts for them (`pipeline`). A source
whose items are parsed records and rejects (an API page, a parsed file of another format)
turns them into windows with `records.RecordWindows`; the object source
(`objects.ObjectWindows`: read, decode, cut, prepare in threads or processes) does the same
work in parallel.

    address         `oci://ns/bucket/name` or a local path
    local           local files, read in chunks
    object_storage  Object Storage objects: streamed GET, resumed with ranged GETs
    objects         the object source: bytes -> decode -> repair/normalize/prepare windows
    records         the door for sources that parse their own records (API pages, ...)
    replay          dead-letter parts read back as the records they hold
"""
