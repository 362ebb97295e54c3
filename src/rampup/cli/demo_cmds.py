"""``rampup demo``: the self-contained tour (what ``make demo`` runs)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rampup.cli._context import console, handle_errors, state


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def explicit_database_url(ctx: typer.Context) -> str | None:
    """``--database-url`` when given on the command line; RAMPUP_DATABASE_URL is ignored."""
    source = ctx.find_root().get_parameter_source("database_url")
    # Compared by name: typer may ship its own copy of click's ParameterSource enum.
    if source is not None and source.name == "COMMANDLINE":
        return state(ctx).database_url
    return None


@handle_errors
def demo(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Option(
        "--dir", help="Project folder to create or reuse.")] = Path("demo-project"),
    port: Annotated[int, typer.Option(
        min=0, max=65535, help="Port on 127.0.0.1 (if busy, the next 10 are tried; "
                               "0: any free port).")] = 8000,
    duration: Annotated[float | None, typer.Option(
        min=0, help="Stop after this many seconds of traffic (default: run until Ctrl-C); "
                    "shorter than the rollout tour skips the tour.")] = None,
    rate: Annotated[float, typer.Option(
        min=0.1, max=5000, help="Predictions per second to send.")] = 50.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated data and traffic.")] = 0,
    fresh: Annotated[bool, typer.Option(
        "--fresh", help="Rebuild the demo project: new data, models and store.")] = False,
    no_tour: Annotated[bool, typer.Option(
        "--no-tour", help="Skip the rollout tour (v1 stays live for you to roll out v2).")
    ] = False,
    no_story: Annotated[bool, typer.Option(
        "--no-story", help="Skip the incident and drift chapters after the tour.")] = False,
    scenario: Annotated[str, typer.Option(
        help="loan (default: the tabular story), vision (a visual-inspection line: "
             "phone photos, a human inspector, a lighting change; about 3 minutes, "
             "--rate defaults to 6 photos/s there) or speech (a VAD -> ASR pipeline on "
             "clips spoken by espeak-ng, 'apt-get install espeak-ng'; about 9 minutes)."
             )] = "loan",
) -> None:
    """Train, serve and roll out a demo model with live traffic: a story to watch.

    Trains, registers and serves a demo model on generated loan applications, drives
    traffic with delayed labels at it, and prints what to open and try. Then a rollout
    tour (about a minute): v2, trained on fresher data, goes through shadow and a canary
    (10% → 50% → 100%) and is promoted; a broken v3 is rolled back automatically.
    Then the story goes on (a few minutes): an incident (a broken upstream field and a
    slow dependency) fires alarms that resolve after the repair; the applicants drift and
    the drift alarm names the features; the concept drifts and the accuracy alarm fires.

    Needs no downloads and no database server: the store is a SQLite file in the
    project folder (unless --database-url is given before 'demo').
    """
    if scenario == "speech":
        if ctx.get_parameter_source("directory").name != "COMMANDLINE":  # type: ignore[union-attr]
            directory = Path("demo-speech")  # never the loan demo's folder
        _speech(directory, port=port, duration=duration, seed=seed, fresh=fresh)
        return
    from rampup_demo.rollout_tour import TourPlan
    from rampup_demo.runner import run_demo
    from rampup_demo.story import StoryPlan

    if scenario not in ("loan", "vision"):
        raise typer.BadParameter(f"unknown scenario {scenario!r}: use loan, vision or speech",
                                 param_hint="--scenario")
    try:
        if scenario == "vision":
            from rampup_demo.vision import RATE, run_vision

            given = ctx.get_parameter_source("rate")
            if ctx.get_parameter_source("directory").name != "COMMANDLINE":  # type: ignore[union-attr]
                directory = Path("vision-demo")  # never the loan demo's folder
            result = run_vision(directory, port=port, duration=duration, seed=seed,
                                rate=rate if given is not None and given.name == "COMMANDLINE"
                                else RATE, fresh=fresh, console=console,
                                database_url=explicit_database_url(ctx))
        else:
            result = run_demo(directory, port=port, duration=duration, rate=rate, seed=seed,
                              fresh=fresh, console=console,
                              database_url=explicit_database_url(ctx),
                              tour=None if no_tour else TourPlan(),
                              story=None if no_story else StoryPlan())
    except KeyboardInterrupt:
        console.print("\n[yellow]demo interrupted[/] (rerun 'rampup demo' to continue "
                      "where it stopped)")
        sys.exit(130)
    again = " --scenario vision" if scenario == "vision" else ""
    console.print(f"done in {result.seconds:.0f} s; rerun 'rampup demo{again} --dir "
                  f"{directory}' to continue, or add --fresh to start over", highlight=False,
                  soft_wrap=True)


def _speech(directory: Path, *, port: int, duration: float | None, seed: int,
            fresh: bool) -> None:
    from rampup_demo.speech_scenario import run_speech_demo
    from rampup_demo.speech_story import SpeechPlan

    plan = SpeechPlan()
    console.print("speech scenario: the story takes about 9 min on a loaded 2-CPU machine "
                  "(pocketsphinx decodes about a clip a second per core)", highlight=False)
    try:
        result = run_speech_demo(directory, port=port, duration=duration, seed=seed,
                                 fresh=fresh, console=console,
                                 plan=plan)
    except KeyboardInterrupt:
        console.print("\n[yellow]demo interrupted[/]")
        sys.exit(130)
    console.print(f"done in {result.seconds:.0f} s", highlight=False)
