"""Monitoring: streaming, mergeable aggregates per model × version × role × stage × window,
snapshots in the store, the metric catalogue, queries, alerts."""
