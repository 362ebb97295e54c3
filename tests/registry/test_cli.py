"""``rampup register / versions / show / apply`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from rampup.cli import _root, modules, registry_cmds

from .conftest import Trained


def _app() -> typer.Typer:
    """The root options plus the registry commands (independent of other command groups)."""
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    app.callback()(_root)
    registry_cmds.register(app)
    return app


class Cli:
    """Runs ``rampup --project DIR --database-url URL ...`` in-process."""

    def __init__(self, project: Path, db_url: str) -> None:
        self.project = project
        self.db_url = db_url
        self.app = _app()

    def __call__(self, *args: str) -> Result:
        return CliRunner().invoke(
            self.app, ["--project", str(self.project), "--database-url", self.db_url, *args],
            env={"COLUMNS": "200"})


@pytest.fixture
def cli(tmp_path: Path, db_url: str) -> Cli:
    project = tmp_path / "project"
    project.mkdir()
    return Cli(project, db_url)


def test_registry_commands_are_in_the_cli() -> None:
    assert registry_cmds in modules.ALL


def test_register_versions_show(cli: Cli, loan: Trained) -> None:
    result = cli("register", "loan", str(loan.path), "--reference", str(loan.reference),
                 "--label-column", "default", "--param", "C=1.0", "--param", "solver=lbfgs",
                 "--metric", "auc=0.83")
    assert result.exit_code == 0, result.output
    assert "registered loan@v1" in result.output
    assert "sha256:" in result.output
    assert "city" in result.output
    assert "lima, oslo, paris, rome" in result.output
    assert "traffic: v1 100%" in result.output
    assert (cli.project / "artifacts" / "loan" / "v1" / "loan.joblib").is_file()

    listing = cli("versions")
    assert listing.exit_code == 0, listing.output
    assert "loan" in listing.output
    assert "v1" in listing.output
    assert "100%" in listing.output

    shown = cli("show", "loan@v1")
    assert shown.exit_code == 0, shown.output
    assert "reference profile (600 rows)" in shown.output
    assert "default (label)" in shown.output
    assert "metrics: auc=0.83" in shown.output
    assert "params: C=1.0, solver=lbfgs" in shown.output

    as_json = cli("show", "loan@v1", "--json")
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)
    assert doc["version"] == "v1"
    assert doc["metadata"]["metrics"] == {"auc": 0.83}
    assert doc["output"]["classes"] == [0, 1]
    assert doc["profile"]["features"]["age"]["kind"] == "numeric"

    latest = cli("show", "loan", "--json")
    assert json.loads(latest.stdout)["version"] == "v1"


def test_no_deploy_and_explicit_version(cli: Cli, loan: Trained) -> None:
    result = cli("register", "loan", str(loan.path), "--version", "2024-01", "--no-deploy")
    assert result.exit_code == 0, result.output
    assert "registered loan@2024-01" in result.output
    assert "traffic" not in result.output
    assert "no versions registered for other" in cli("versions", "other").output


def test_errors_are_one_line_with_a_fix(cli: Cli, loan: Trained) -> None:
    missing = cli("show", "loan@v9")
    assert missing.exit_code == 2
    assert "no registered versions" in missing.output
    assert "fix:" in missing.output
    bad_metric = cli("register", "loan", str(loan.path), "--metric", "auc=high")
    assert bad_metric.exit_code == 2
    assert "--metric auc = 'high' is not a number" in bad_metric.output
    bad_pair = cli("register", "loan", str(loan.path), "--param", "novalue")
    assert bad_pair.exit_code == 2
    assert "is not KEY=VALUE" in bad_pair.output
    nothing = cli("register", "loan", str(loan.path.parent / "nope.joblib"))
    assert nothing.exit_code == 2
    assert "does not exist" in nothing.output


def test_apply_registers_the_project_file(cli: Cli, loan: Trained) -> None:
    project = cli.project
    (project / "model.joblib").write_bytes(loan.path.read_bytes())
    loan.frame.to_csv(project / "train.csv", index=False)
    (project / "rampup.yaml").write_text(
        "models:\n  loan:\n    versions:\n      v1:\n        artifact: model.joblib\n"
        "        reference: train.csv\n        label_column: default\n")
    first = cli("apply")
    assert first.exit_code == 0, first.output
    assert "registered" in first.output
    second = cli("apply")
    assert second.exit_code == 0, second.output
    assert "unchanged" in second.output
    (project / "rampup.yaml").write_text("models: {}\n")
    assert "nothing to do" in cli("apply").output


def test_register_reads_the_reference_from_a_bucket(cli: Cli, loan: Trained,
                                                    s3_bucket: str) -> None:
    import s3fs

    from rampup.registry.artifacts import hash_path

    url = f"s3://{s3_bucket}/data/{loan.reference.name}"
    s3fs.S3FileSystem(skip_instance_cache=True).put_file(str(loan.reference), url)
    result = cli("register", "loan", str(loan.path), "--reference", url,
                 "--label-column", "default")
    assert result.exit_code == 0, result.output
    assert "lima, oslo, paris, rome" in result.output  # the profile of the bucket's copy
    shown = json.loads(cli("show", "loan@v1", "--json").output)
    assert shown["profile"]["data_hash"] == hash_path(loan.reference)
    assert shown["profile"]["label"]["name"] == "default"
