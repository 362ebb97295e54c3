"""Monitoring: streaming, mergeable aggregates per model x version x role x stage x window,
snapshots in the store, the metric catalogue, queries, alerts."""
