"""Alembic environment: always run with a connection handed in by rampup.store.migrate."""

from __future__ import annotations

from alembic import context

from rampup.store.schema import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:  # pragma: no cover - only reachable from the alembic CLI
        raise SystemExit(
            "run migrations through 'rampup db upgrade' or rampup.store.migrate.upgrade")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic executes this file with its context set up; anything else (pytest's
# --doctest-modules collecting the package) only imports it.
if hasattr(context, "config"):
    run_migrations()
