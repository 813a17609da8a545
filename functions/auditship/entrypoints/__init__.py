"""Entry points: how a run is started.

handler  the fdk handler of both functions (`func.py` is one line)
cli      the operator command (`oci-audit-ship`, `scripts/ship.py`)
events   what an invocation payload asks for
wiring   settings -> sink, normalizer and options (shared by both)
"""
