"""OCI Function: ship Service Connector audit objects to oci-logging.

The code lives in the shared package `auditship` (functions/auditship); run
`python scripts/vendor_core.py` before `fn deploy` to copy it into this folder.
"""

from auditship.entrypoints.handler import make_handler

handler = make_handler("oci-logging")
