"""Delivery: prepared records to the sink, and what cannot be delivered to dead letters.

batcher     where batches are cut and which records are too large (pure)
sender      one batch at a time, in order, on its own thread, with the retry policy
deadletter  rejects written durably in parts, with their reasons
"""
