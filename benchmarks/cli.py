"""CLI start-up: how long until ``rampup --help`` prints and until each command starts.

One command::

    .venv/bin/python benchmarks/cli.py              # every command, 5 runs each (~1 min)
    .venv/bin/python benchmarks/cli.py --repeat 1 --only versions   # a smoke run

Every measurement is a fresh process (what a person typing the command waits for), timed
from spawn to exit with output to a pipe. Runs are interleaved round-robin (baseline,
--help, each command, baseline, ...) so outside load hits all alike; the table shows the
median and the fastest run of each. Rows:

* ``python -c pass``: the interpreter alone, the floor and the baseline of every ratio;
* ``import typer, rich``: the CLI framework, the floor of any typer + rich program;
* ``rampup --help``: target 0.3 s on an idle machine;
* ``rampup CMD --help`` for every command and command group: parsing the arguments and
  building the command, everything that happens before a command's own work (opening the
  store, reading data, loading a model) starts; target 0.5 s;
* ``rampup versions`` on a project with one registered version, the whole command: settings,
  the store (already migrated), one query, a table.

Exit status 1 when a median misses its target (on a loaded machine it may: compare the
ratios, which the load scales alike).

``--drift`` measures instead the whole ``rampup drift --reference --current`` process on
100k + 100k rows x 20 columns with hyperfine, beside the fastest baseline we can run and,
with ``--evidently-python PYTHON`` (an interpreter of a scratch venv with Evidently),
Evidently's whole process (see ``_drift_cli.py``)::

    .venv/bin/python benchmarks/cli.py --drift [--evidently-python /tmp/ev/bin/python]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP_TARGET_S = 0.3
START_TARGET_S = 0.5
ECHO = "class Echo:\n    def predict(self, rows):\n        return [len(r) for r in rows]\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5, help="runs of each command")
    p.add_argument("--only", nargs="*", default=None,
                   help="only these commands (default: all)")
    p.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    p.add_argument("--drift", action="store_true",
                   help="measure the whole drift CLI process instead (hyperfine)")
    p.add_argument("--rounds", type=int, default=3, help="--drift: interleaved rounds")
    p.add_argument("--evidently-python", default=None,
                   help="--drift: a Python interpreter that has Evidently installed")
    return p.parse_args(argv)


def drift_main(args: argparse.Namespace) -> int:
    from _drift_cli import measure, verdicts

    load = os.getloadavg()
    result = measure(rampup_command(), rounds=args.rounds, runs=max(1, args.repeat // 2),
                     evidently_python=args.evidently_python)
    checks = verdicts(result)
    base = result["python -c pass"]["median_s"]
    ours = result["rampup drift"]["median_s"]
    print("rampup drift --reference --current, 100k + 100k rows x 20 columns (whole process, "
          f"hyperfine); load average {load[0]:.1f} -> {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs")
    print(f"{'command':<36} {'median s':>9} {'min s':>7} {'runs':>5} {'x rampup':>9}")
    for name, r in result.items():
        print(f"{name:<36} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {r['runs']:>5} "
              f"{r['median_s'] / ours:>9.2f}")
    print(f"(the interpreter alone: {base:.3f} s)")
    if args.evidently_python is None:
        print("Evidently not measured: pass --evidently-python (a scratch venv outside the "
              "repository); the baseline is SciPy's ks_2samp per column")
    for c in checks:
        measured = f"{c['measured']:.2f}" + (" s" if c["goal"].endswith("s") else "x")
        print(f"target {c['name']}: {measured} (goal {c['goal']}) "
              f"{'PASS' if c['passed'] else 'FAIL'}")
    if args.json:
        print(json.dumps({"result": result, "targets": checks}))
    return 0 if all(c["passed"] for c in checks) else 1


def rampup_command() -> list[str]:
    """The ``rampup`` script beside this interpreter (what a person runs), else -m."""
    script = Path(sys.executable).with_name("rampup")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rampup"]


def commands() -> list[str]:
    """Every top-level command and command group, as ``rampup --help`` lists them."""
    from rampup.cli import app
    from rampup.cli._lazy import command_name

    return ([command_name(i) for i in app.registered_commands]
            + [g.name for g in app.registered_groups if g.name])


def seed_project(folder: Path) -> None:
    """A project with one registered version, so ``versions`` has a row to print."""
    (folder / "echo.py").write_text(ECHO, encoding="utf-8")
    subprocess.run([*rampup_command(), "-p", str(folder), "register", "echo",
                    f"{folder / 'echo.py'}:Echo"], check=True, capture_output=True,
                   env=_env(folder))


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAMPUP_")}
    return {**env, "RAMPUP_PROJECT_DIR": str(folder), "COLUMNS": "120"}


def time_once(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): "
                         f"{done.stderr.decode()[-500:]}")
    return elapsed


def compile_bytecode() -> None:
    """Compile rampup's modules to ``.pyc`` first, as ``pip install`` does for an installed
    package: an editable install writes them on first import, unless the environment
    forbids it (``PYTHONDONTWRITEBYTECODE=1``, set on the machines this was measured on),
    and then every process recompiles ~60 modules (~0.2 s a command, which no user of an
    installed rampup pays)."""
    import compileall

    src = Path(__file__).resolve().parents[1] / "src"
    compileall.compile_dir(str(src), quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    compile_bytecode()
    if args.drift:
        return drift_main(args)
    rampup = rampup_command()
    folder = Path(tempfile.mkdtemp(prefix="rampup-bench-cli-"))
    try:
        seed_project(folder)
        env = _env(folder)
        names = [c for c in commands() if args.only is None or c in args.only]
        rows: list[tuple[str, list[str], float | None]] = [
            ("python -c pass", [sys.executable, "-c", "pass"], None),
            ("import typer, rich", [sys.executable, "-c", "import typer, rich.console"], None),
            ("rampup --help", [*rampup, "--help"], HELP_TARGET_S),
            *[(f"rampup {c} --help", [*rampup, c, "--help"], START_TARGET_S) for c in names],
            ("rampup versions (whole command)", [*rampup, "versions"], None),
        ]
        times: dict[str, list[float]] = {label: [] for label, _, _ in rows}
        for _label, cmd, _ in rows:  # warm the file cache and .pyc files
            time_once(cmd, env)
        for _ in range(args.repeat):
            for label, cmd, _ in rows:
                times[label].append(time_once(cmd, env))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    base = statistics.median(times["python -c pass"])
    print(f"CLI start-up, {args.repeat} run(s) each, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'command':<40} {'median s':>9} {'min s':>7} {'x python':>9} {'target':>7}  verdict")
    missed = []
    report = {}
    for label, _, target in rows:
        med, low = statistics.median(times[label]), min(times[label])
        verdict = "" if target is None else ("ok" if med <= target else "MISSED")
        if verdict == "MISSED":
            missed.append(label)
        print(f"{label:<40} {med:>9.3f} {low:>7.3f} {med / base:>9.1f} "
              f"{'' if target is None else f'{target:.1f}':>7}  {verdict}")
        report[label] = {"median_s": med, "min_s": low, "ratio": med / base, "target_s": target}
    worst = max((r for r in report.values() if r["target_s"] == START_TARGET_S),
                key=lambda r: r["median_s"], default=None)
    if worst is not None:
        print(f"slowest command start: {worst['median_s']:.3f} s (target {START_TARGET_S} s)")
    if args.json:
        print(json.dumps({"repeat": args.repeat, "rows": report, "missed": missed}))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
