"""Retraining: triggers and guards, dataset assembly, the training job, evaluation against
the champion, replay of logged traffic, and the rollout of a passing candidate."""
