"""``rampup tokens``, ``rampup reviewers``, ``rampup events``, ``rampup forget``:
credentials, the audit trail and erasure of one subject's data.

A new token is printed once and stored only as a digest; running servers accept it (or
stop accepting a revoked one) within a few seconds, no restart.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rampup.cli._context import TIME_HELP, console, handle_errors, print_wide, state

tokens_app = typer.Typer(help="Admin tokens (named, stored hashed): add, list, revoke.",
                         no_args_is_help=True)
reviewers_app = typer.Typer(help="Reviewers of the review queue and their tokens: add, "
                                 "list, revoke.", no_args_is_help=True)
AsJson = Annotated[bool, typer.Option("--json", help="Machine output.")]


def register(app: typer.Typer) -> None:
    app.add_typer(tokens_app, name="tokens")
    app.add_typer(reviewers_app, name="reviewers")
    app.command("events")(events_cmd)
    app.command("forget")(forget_cmd)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user database entry
        return "cli"


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _add(ctx: typer.Context, kind: str, name: str, role: str | None, as_json: bool) -> None:
    from rampup.security.tokens import check_token_name, hash_token, new_token

    check_token_name(name)
    token = new_token("adm" if kind == "admin" else "rev")
    store = state(ctx).store()
    row = store.credentials.add_token(kind, name, hash_token(token), role=role, actor=_actor())
    store.events.add_event(_actor(), f"{kind}_token.add", details={"name": name, "role": role})
    if as_json:
        typer.echo(json.dumps({**row, "token": token}))
        return
    what = f"{kind} token" + (f" ({role})" if role else "")
    console.print(f"{what} [bold]{escape(name)}[/] created. The token (shown only now):",
                  highlight=False)
    typer.echo(token)


def _list(ctx: typer.Context, kind: str, include_revoked: bool, as_json: bool) -> None:
    rows = state(ctx).store().credentials.list_tokens(kind, include_revoked=include_revoked)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        console.print(f"no {kind} tokens")
        return
    table = Table("name", *(["role"] if kind == "reviewer" else []), "created",
                  "by", "revoked")
    for r in rows:
        table.add_row(escape(r["name"]), *([r["role"] or "reviewer"] if kind == "reviewer"
                                            else []),
                      _when(r["created_at"]), escape(r["created_by"]), _when(r["revoked_at"]))
    print_wide(table)


def _revoke(ctx: typer.Context, kind: str, name: str) -> None:
    store = state(ctx).store()
    store.credentials.revoke_token(kind, name)
    store.events.add_event(_actor(), f"{kind}_token.revoke", details={"name": name})
    console.print(f"{kind} token [bold]{escape(name)}[/] revoked (servers stop accepting it "
                  "within a few seconds)", highlight=False)


Name = Annotated[str, typer.Argument(help="A name for the token (who or what uses it).")]
Revoked = Annotated[bool, typer.Option("--revoked", help="Include revoked tokens.")]


@tokens_app.command("add")
@handle_errors
def tokens_add(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """Create a named admin token (rotate: add a new one, switch clients, revoke the old)."""
    _add(ctx, "admin", name, None, as_json)


@tokens_app.command("list")
@handle_errors
def tokens_list(ctx: typer.Context, revoked: Revoked = False, as_json: AsJson = False) -> None:
    """Admin tokens (names and dates; the tokens themselves are not kept)."""
    _list(ctx, "admin", revoked, as_json)


@tokens_app.command("revoke")
@handle_errors
def tokens_revoke(ctx: typer.Context, name: Name) -> None:
    """Revoke an admin token; running servers refuse it within a few seconds."""
    _revoke(ctx, "admin", name)


@reviewers_app.command("add")
@handle_errors
def reviewers_add(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The reviewer's name.")],
    role: Annotated[str, typer.Option(help="reviewer, or lead (leads also adjudicate "
                                            "disputed items).")] = "reviewer",
    as_json: AsJson = False,
) -> None:
    """Create a reviewer and their token; decisions are recorded under this name."""
    from rampup.errors import ValidationError
    from rampup.security.tokens import ROLES

    if role not in ROLES:
        raise ValidationError(f"unknown role {role!r}", field="role",
                              fix=f"use one of: {', '.join(ROLES)}")
    _add(ctx, "reviewer", name, role, as_json)


@reviewers_app.command("list")
@handle_errors
def reviewers_list(ctx: typer.Context, revoked: Revoked = False,
                   as_json: AsJson = False) -> None:
    """Reviewers and their roles."""
    _list(ctx, "reviewer", revoked, as_json)


@reviewers_app.command("revoke")
@handle_errors
def reviewers_revoke(ctx: typer.Context,
                     name: Annotated[str, typer.Argument(help="The reviewer's name.")]) -> None:
    """Revoke a reviewer's token (their past decisions stay, under their name)."""
    _revoke(ctx, "reviewer", name)


@handle_errors
def events_cmd(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(help="Only this model's events.")] = None,
    actor: Annotated[str | None, typer.Option(
        help="Only this actor (admin:NAME for an admin token, cli:USER, a reviewer).")] = None,
    action: Annotated[str | None, typer.Option(
        help="Only this action; a trailing * matches a prefix (admin.*, deploy).")] = None,
    since: Annotated[str | None, typer.Option(help=TIME_HELP)] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 50,
    as_json: AsJson = False,
) -> None:
    """The audit trail: deployments, rollouts, admin requests (which token, from where),
    token changes and erasures, newest first."""
    from rampup.durations import parse_time

    rows = state(ctx).store().events.list_events(model, limit, actor=actor, action=action,
                                                 since=parse_time(since) if since else None)
    if as_json:
        typer.echo(json.dumps([{"id": e.id, "ts": e.ts, "actor": e.actor, "action": e.action,
                                "model": e.model, "version": e.version,
                                "details": e.details} for e in rows], default=str))
        return
    table = Table("time (UTC)", "actor", "action", "model", "details")
    for e in rows:
        table.add_row(_when(e.ts), escape(e.actor), escape(e.action), escape(e.model or "-"),
                      escape(json.dumps(e.details, default=str, sort_keys=True)))
    print_wide(table)


@handle_errors
def forget_cmd(
    ctx: typer.Context,
    request_key: Annotated[str, typer.Option(
        "--request-key", help="The subject's request key (user/session id) as sent.")],
    as_json: AsJson = False,
) -> None:
    """Erase one subject's rows everywhere: predictions, feedback, review items and labels,
    dead letters, stored input files and retraining datasets; recorded as an event that
    names no personal data."""
    from rampup.security.erase import forget

    st = state(ctx)
    with console.status("erasing…"):
        report = forget(st.store(), st.project_file, request_key, actor=_actor(),
                        input_bytes_dir=st.settings.input_bytes_dir)
    if as_json:
        typer.echo(json.dumps(report))
        return
    parts = ", ".join(f"{n} {what}" for what, n in report["deleted"].items() if n) or "nothing"
    console.print(f"forgot request key (event {report['event']}): {parts}", highlight=False)
