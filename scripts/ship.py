#!/usr/bin/env python3
"""Operator command: ship audit objects with the same code the functions run.

    python scripts/ship.py tests/data/sample-connector-object.log.gz
    python scripts/ship.py oci://<ns>/<bucket>/<object> --to logzio
    python scripts/ship.py oci://<ns>/<bucket>/<prefix>/ --to oci-logging --log-id <log OCID>

See `python scripts/ship.py --help` and the README for configuration.
"""

import sys
from pathlib import Path

try:
    from auditship.entrypoints.cli import run
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "functions"))
    from auditship.entrypoints.cli import run

if __name__ == "__main__":
    sys.exit(run())
