"""Names the alert CLI, spec and service share, in a module free of heavy imports (the
CLI's help is built from them without loading pydantic or the store)."""

#: history kinds: state changes, notification outcomes, action outcomes, data gaps
KINDS = ("state", "notified", "notify_failed", "action", "action_failed", "no_data")
#: actions every evaluator knows (``retrain`` records a request; the retraining trigger acts).
BUILTIN_ACTIONS = ("rollback", "pause_rollout", "retrain")
