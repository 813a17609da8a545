"""State: what a run knows about earlier runs and about itself.

ledger      done and progress markers and leases, per object version
accounting  every position counted once; the checkpoint; dead-letter positions
"""
