"""``rampup loadtest``: drive a model's predict endpoint open-loop and judge its SLOs.

Imports numpy, the store and the generator only when the command runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from rampup.cli._context import CliState, console, err_console, handle_errors, state
from rampup.errors import ValidationError

if TYPE_CHECKING:
    from rampup.loadtest.verdict import Targets

ROWS_HELP = "Request bodies to prepare and send in turn."


def register(app: typer.Typer) -> None:
    app.command("loadtest")(loadtest)


def _seconds(text: str, option: str) -> float:
    from rampup.durations import parse_duration

    return parse_duration(text, option, positive=True)


def _bodies(cli: CliState, model: str, data: Path | None, replay: str | None, count: int,
            seed: int) -> tuple[list[dict[str, Any]], str]:
    """Rows to send and where they came from."""
    from rampup.loadtest import bodies

    if data is not None and replay is not None:
        raise ValidationError("give --data or --replay-log, not both",
                              fix="--data FILE sends its rows, --replay-log 1h logged requests")
    record = None
    if data is None or replay is not None or cli.settings.database_url or (
            cli.settings.project_dir / "rampup.db").exists():
        try:
            record = bodies.serving_version(cli.store(), model)
        except Exception:
            if data is None and replay is None:
                raise
    schema = record.input_schema if record is not None else {}
    profile = record.profile if record is not None else None
    if data is not None:
        names = [f["name"] for f in schema.get("features") or []] or None
        if schema.get("allow_extra"):
            names = None
        return bodies.from_file(data, names, count), f"{data.name}"
    if replay is not None:
        from rampup.durations import parse_time

        rows = bodies.from_log(cli.store(), model, parse_time(replay, "replay"), count)
        protected = bodies.protected_fields(cli.project_file, model)
        rows = bodies.scrub(rows, protected, bodies.filler(schema, profile, seed=seed))
        hidden = f"; {', '.join(sorted(protected))} replaced (privacy)" if protected else ""
        return rows, f"{len(rows):,} logged requests since {replay}{hidden}"
    assert record is not None  # serving_version raised otherwise
    rows = bodies.synthetic(schema, profile, count, seed=seed)
    return rows, (f"synthetic rows from {record.model} {record.version}'s "
                  f"{'reference profile' if profile else 'schema'}")


def _targets(cli: CliState, model: str, p99: float | None, p50: float | None,
             qps: float | None, errors: float | None) -> Targets:
    from rampup.loadtest.verdict import Targets

    spec = cli.project_file.models.get(model)
    return Targets.from_slo(spec.slo if spec is not None else None, latency_p99_ms=p99,
                            latency_p50_ms=p50, expected_qps=qps, max_error_rate=errors)


@handle_errors
def loadtest(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Model to load (its predict endpoint).")],
    url: Annotated[str | None, typer.Option(
        help="Server base URL (default: the project's serving host and port).")] = None,
    qps: Annotated[float | None, typer.Option(
        "--qps", help="Constant offered rate, req/s (default: slo.expected_qps).")] = None,
    ramp: Annotated[str | None, typer.Option(
        help="Offered rate rising linearly FROM:TO req/s over the run, e.g. 10:1000.")] = None,
    duration: Annotated[str, typer.Option(help="How long to send, e.g. 60s, 5m.")] = "60s",
    arrivals: Annotated[str, typer.Option(
        help="constant (evenly spaced) or poisson (random, same mean rate).")] = "constant",
    data: Annotated[Path | None, typer.Option(
        help="Send rows of this CSV/Parquet/JSONL file.")] = None,
    replay_log: Annotated[str | None, typer.Option(
        "--replay-log", metavar="SINCE",
        help="Replay requests logged since SINCE (1h, 7d, 2024-05-01); fields the "
             "privacy settings protect are replaced by synthetic values.")] = None,
    processes: Annotated[int, typer.Option(
        min=1, max=64, help="Generator processes (one Python process tops out at a few "
                            "thousand req/s).")] = 1,
    connections: Annotated[int, typer.Option(
        min=1, help="Most connections open at once (all processes).")] = 256,
    timeout: Annotated[str, typer.Option(help="Per-request timeout.")] = "10s",
    p99_ms: Annotated[float | None, typer.Option(
        "--p99-ms", help="p99 latency SLO in ms (overrides slo.latency_p99_ms).")] = None,
    p50_ms: Annotated[float | None, typer.Option(
        "--p50-ms", help="p50 latency SLO in ms (overrides slo.latency_p50_ms).")] = None,
    expect_qps: Annotated[float | None, typer.Option(
        "--expect-qps", help="Throughput SLO in req/s (overrides slo.expected_qps).")] = None,
    max_error_rate: Annotated[float | None, typer.Option(
        "--max-error-rate", min=0, max=1,
        help="Error-rate SLO, 0..1 (overrides slo.max_error_rate).")] = None,
    max_lag_ms: Annotated[float | None, typer.Option(
        "--max-lag-ms", help="Send lag (p99) above which the generator, not the server, is "
                             "the limit (default: 10% of the latency SLO, 1-10 ms).")] = None,
    windows: Annotated[int | None, typer.Option(
        min=1, max=1000, help="Report windows (default 1; 10 for a ramp).")] = None,
    rows: Annotated[int, typer.Option(min=1, help=ROWS_HELP)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of Poisson arrivals and synthetic rows.")] = 0,
    token: Annotated[str | None, typer.Option(
        envvar="RAMPUP_PREDICT_TOKEN", show_envvar=True,
        help="Predict token sent as a bearer token.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load a model open-loop, show live latency, and judge its SLOs.

    Exit status: 0 every SLO passed (or none set), 1 an SLO failed, 3 not judged (the
    generator fell short of the offered rate, or the rate was below slo.expected_qps).
    """
    from rampup.loadtest import bodies
    from rampup.loadtest.schedule import ARRIVALS, offsets, parse_rate
    from rampup.loadtest.service import load_test

    cli = state(ctx)
    if arrivals not in ARRIVALS:
        raise ValidationError(f"--arrivals {arrivals!r} is unknown",
                              fix=f"use one of: {', '.join(ARRIVALS)}")
    targets = _targets(cli, model, p99_ms, p50_ms, expect_qps, max_error_rate)
    if qps is not None and ramp is not None:
        raise ValidationError("give --qps or --ramp, not both",
                              fix="--qps 200 holds one rate, --ramp 10:1000 climbs")
    if ramp is not None:
        rate = parse_rate(ramp)
    elif qps is not None or targets.expected_qps is not None:
        rate = parse_rate(f"{qps if qps is not None else targets.expected_qps:g}")
    else:
        raise ValidationError("no request rate given",
                              fix="pass --qps N or --ramp FROM:TO, or set slo.expected_qps")
    seconds, limit = _seconds(duration, "--duration"), _seconds(timeout, "--timeout")
    settings = cli.settings
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    base = url or f"http://{host}:{settings.port}"
    endpoint = base.rstrip("/") + f"/v1/models/{model}/predict"
    rows_, source = _bodies(cli, model, data, replay_log, rows, seed)
    secret = token or (settings.predict_token.get_secret_value()
                       if settings.predict_token else None)
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    out = err_console if as_json else console
    title = (f"{model} at {endpoint}: {rate.describe()} {arrivals} for {seconds:g} s, "
             f"{processes} process{'es' if processes > 1 else ''}; bodies: {source}")
    out.print(f"[bold]loadtest[/] {title}", highlight=False)
    from rampup.loadtest.render import Live, report

    total = len(offsets(rate, seconds, arrivals, seed=seed))
    with Live(out, total, "loadtest") as live:
        result = load_test(endpoint, bodies.encode(rows_), rate, seconds, slo=targets,
                           arrivals=arrivals, processes=processes, connections=connections,
                           timeout=limit, windows=windows, lag_bound_ms=max_lag_ms, seed=seed,
                           headers=headers, on_tick=live.tick)
    if as_json:
        doc = {"model": model, "url": endpoint, "processes": processes, "bodies": source,
               **result.to_json()}
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        report(console, result, "result")
    raise typer.Exit(result.exit_code)
