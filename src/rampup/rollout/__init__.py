"""Deployments (traffic policies), routing and, later, rollout plans and checks."""
