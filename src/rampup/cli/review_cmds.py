"""``rampup review ...``: work through the human review queue from a terminal."""

from __future__ import annotations

import getpass
import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from rampup.cli._context import TIME_HELP, console, handle_errors, state
from rampup.errors import RampupError

if TYPE_CHECKING:
    from rampup.automation.service import Automation

review_app = typer.Typer(help="The human review queue: list, next, decide, skip, show, "
                              "agreement.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user database entry
        return "cli"


def _service(ctx: typer.Context) -> Automation:
    from rampup.automation.service import Automation  # start-up time: pandas, the store

    st = state(ctx)
    return Automation(st.store(), st.project_file)


def item_view(row: dict[str, Any], now: float) -> dict[str, Any]:
    from rampup.automation.queue import item_view  # start-up time: pydantic models

    return item_view(row, now)


def choices(row: dict[str, Any], spec: Any) -> list[Any] | None:
    from rampup.automation.queue import choices

    return choices(row, spec)


def _label(text: str) -> Any:
    """A label from the command line: JSON when it parses (1, true, "a b"), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _show(row: dict[str, Any], allowed: list[Any] | None) -> None:
    view = item_view(row, time.time())
    console.print(f"[bold]{escape(view['id'])}[/] · {view['reason']} · {view['status']} · "
                  f"confidence {view['confidence'] if view['confidence'] is not None else '-'}"
                  f" · waiting {view['age_s']:.0f} s", highlight=False)
    table = Table(show_header=False)
    inputs = view["inputs"] if isinstance(view["inputs"], dict) else {"input": view["inputs"]}
    for k, v in inputs.items():
        table.add_row(escape(str(k)), escape(json.dumps(v, default=str)))
    console.print(table)
    if view["suggestion"] is not None:
        shown = json.dumps(view["suggestion"].get("prediction"), default=str)
        console.print(f"model suggests: [bold]{escape(shown)}[/]", highlight=False)
    if allowed is not None:
        console.print("labels: " + ", ".join(escape(json.dumps(c)) for c in allowed),
                      highlight=False)


Model = Annotated[str, typer.Argument(help="Model name.")]
Item = Annotated[str, typer.Argument(help="Review item id (the prediction id).")]
Reviewer = Annotated[str | None, typer.Option("--reviewer", "-r",
                                              help="Your name (default: the login name).")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine output.")]


@review_app.command("list")
@handle_errors
def list_cmd(ctx: typer.Context, model: Model,
             status: Annotated[str, typer.Option(help="pending (open + disputed), open, "
                                                 "disputed, decided, uncertain or all")] =
             "pending",
             reason: Annotated[str | None, typer.Option(help="low_confidence, audit, assist, "
                                                        "shadow or human_only")] = None,
             limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
             as_json: AsJson = False) -> None:
    """Items in queue order (priority, then oldest first)."""
    rows = _service(ctx).queue().list(model, None if status == "all" else status,
                                      reason=reason, limit=limit)
    now = time.time()
    if as_json:
        typer.echo(json.dumps([item_view(r, now) for r in rows], indent=2, default=str))
        return
    if not rows:
        console.print(f"no {status} review items for {escape(model)}")
        return
    table = Table(title=f"review queue of {model}")
    for col in ("id", "reason", "status", "confidence", "suggestion", "labels", "claimed by",
                "age"):
        table.add_column(col, overflow="fold")
    for r in rows:
        v = item_view(r, now)
        sug = v["suggestion"].get("prediction") if v["suggestion"] else None
        table.add_row(escape(v["id"]), v["reason"], v["status"],
                      "-" if v["confidence"] is None else f"{v['confidence']:.3f}",
                      escape(json.dumps(sug, default=str)) if sug is not None else "-",
                      f"{v['n_labels']}/{v['reviewers_needed']}",
                      escape(v["claimed_by"] or "-"), f"{v['age_s']:.0f} s")
    console.print(table)


@review_app.command("next")
@handle_errors
def next_cmd(ctx: typer.Context, model: Model, reviewer: Reviewer = None,
             as_json: AsJson = False) -> None:
    """Claim the next item and show it."""
    svc = _service(ctx)
    row = svc.queue().next(model, reviewer or _user(), time.time())
    if as_json:
        typer.echo(json.dumps(item_view(row, time.time()) if row else None, default=str))
        return
    if row is None:
        console.print("nothing to review right now")
        return
    _show(row, choices(row, svc.spec(model)))
    console.print(f"decide with: rampup review decide {escape(model)} {escape(row['id'])} "
                  "LABEL", highlight=False)


@review_app.command("show")
@handle_errors
def show_cmd(ctx: typer.Context, model: Model, item: Item) -> None:
    """One item and its reviewers' labels."""
    svc = _service(ctx)
    row = svc.queue().get(model, item)
    _show(row, choices(row, svc.spec(model)))
    for r in svc.store.review.list_review_labels(model, item_ids=[item],
                                                 kinds=("label", "skip", "adjudicate")):
        console.print(f"  {escape(r['reviewer'])}: {r['kind']} "
                      f"{escape(json.dumps(r['label']))}", highlight=False)


@review_app.command("decide")
@handle_errors
def decide_cmd(ctx: typer.Context, model: Model, item: Item,
               label: Annotated[str, typer.Argument(help="The label (JSON or text).")],
               reviewer: Reviewer = None,
               note: Annotated[str, typer.Option(help="A note kept with the label.")] = "",
               ) -> None:
    """Label an item (claiming it first if you have not)."""
    queue = _service(ctx).queue()
    who = reviewer or _user()
    now = time.time()
    row = queue.get(model, item)
    claimed = row["claimed_by"] != who or (row["claimed_until"] or 0) < now
    if claimed:
        queue.claim(model, item, who, now)
    try:
        row = queue.decide(model, item, who, _label(label), time.time(), note=note)
    except RampupError:
        if claimed:  # a claim taken only for this command is given back
            queue.store.review.release_review_claim(item, who)
        raise
    final = f" → final label {json.dumps(row['final_label'])}" if row["final_label"] is not None \
        else ""
    console.print(f"[green]recorded[/] {escape(who)}: {escape(label)} on {escape(item)} "
                  f"({row['status']}{escape(final)})", highlight=False)


@review_app.command("skip")
@handle_errors
def skip_cmd(ctx: typer.Context, model: Model, item: Item, reviewer: Reviewer = None) -> None:
    """Give a claimed item back (it will not be offered to you again)."""
    _service(ctx).queue().skip(model, item, reviewer or _user(), time.time())
    console.print(f"skipped {escape(item)}")


@review_app.command("agreement")
@handle_errors
def agreement_cmd(ctx: typer.Context, model: Model,
                  since: Annotated[str | None, typer.Option(help=TIME_HELP)] = None,
                  as_json: AsJson = False) -> None:
    """Reviewer agreement, disputed items, human-level accuracy, model vs human."""
    from rampup.durations import parse_time

    out = _service(ctx).consistency(model, since=parse_time(since, "since") if since else None)
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    rep = out["labels"]
    console.print(f"items with several reviewers: {out['items_with_several_reviewers']}")
    if rep is not None:
        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.3f}"

        console.print(f"percent agreement {num(rep['percent_agreement'])} · Fleiss' kappa "
                      f"{num(rep['fleiss_kappa'])}" + (
                          f" · Cohen's kappa {num(rep['cohen_kappa'])}"
                          if rep["cohen_kappa"] is not None else "")
                      + f" · uncertain share {num(rep['uncertain_share'])}")
        table = Table(title="human-level accuracy")
        for col in ("reviewer / class", "accuracy", "n"):
            table.add_column(col)
        hl = rep["human_level"]
        for k, v in {**hl["per_annotator"], **hl["per_tag"]}.items():
            table.add_row(escape(k), num(v["accuracy"]), str(v["n"]))
        console.print(table)
        if rep["disputed"]:
            console.print("disputed: " + ", ".join(escape(str(d["item"]))
                                                   for d in rep["disputed"]))
    if out["model_vs_human"]:
        table = Table(title="model vs human (per human label)")
        for col in ("class", "agreement", "n"):
            table.add_column(col)
        for c, v in out["model_vs_human"].items():
            table.add_row(escape(c), f"{v['value']:.3f}", str(v["n"]))
        console.print(table)
