"""Sinks: where batches of records go. Each implements `sinks.base.Sink`."""
