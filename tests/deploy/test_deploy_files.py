"""The deployment files in ``deploy/``, checked statically (this machine has no container
runtime or cluster): the Kubernetes manifests against the API schemas
(``kubernetes-validate``), the compose file against the Compose specification's JSON
schema (vendored by ``check-jsonschema``), the Dockerfile for a non-root user, a health
check and a command rampup accepts, and every path the files name against the app."""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from rampup.cli import app as cli
from rampup.project import parse_project

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S_VERSION = "1.30"
runner = CliRunner()


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _manifests() -> dict[str, dict[str, Any]]:
    out = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in _docs(path):
            out[doc["kind"]] = doc
    return out


@pytest.mark.parametrize("path", sorted((DEPLOY / "k8s").glob("*.yaml")), ids=lambda p: p.name)
def test_manifests_are_valid_kubernetes(path: Path) -> None:
    for doc in _docs(path):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_an_invalid_manifest_is_caught() -> None:
    bad = _manifests()["Deployment"]
    bad = json.loads(json.dumps(bad))
    bad["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["prot"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_the_deployment_probes_health_and_runs_as_non_root() -> None:
    m = _manifests()
    pod = m["Deployment"]["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["envFrom"][0]["secretRef"]["name"] == m["Secret"]["metadata"]["name"]
    assert set(m["Secret"]["stringData"]) == {"RAMPUP_ADMIN_TOKEN", "RAMPUP_DATABASE_URL",
                                              "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    mounts = {v["name"]: v for v in pod["volumes"]}
    assert mounts["project"]["configMap"]["name"] == m["ConfigMap"]["metadata"]["name"]
    # artifacts in the object store, not on a shared volume: each pod only caches
    assert "PersistentVolumeClaim" not in m
    assert not any("persistentVolumeClaim" in v for v in pod["volumes"])
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["RAMPUP_ARTIFACTS_DIR"].startswith("s3://")
    cache = next(v for v in c["volumeMounts"] if v["mountPath"] == env[
        "RAMPUP_ARTIFACT_CACHE_DIR"])
    assert "emptyDir" in mounts[cache["name"]]
    assert m["Service"]["spec"]["selector"] == m["Deployment"]["spec"]["selector"]["matchLabels"]
    target = m["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", m["Deployment"]["metadata"]["name"])
    # the command is one rampup accepts
    args = c["args"]
    assert args[:2] == ["rampup", "serve"]
    _serve_args_are_accepted(args[2:])


def test_the_configmap_holds_a_project_file_rampup_reads() -> None:
    text = _manifests()["ConfigMap"]["data"]["rampup.yaml"]
    parse_project(yaml.safe_load(text))


def _serve_args_are_accepted(args: list[str]) -> None:
    result = runner.invoke(cli, ["serve", *args, "--help"])
    assert result.exit_code == 0, result.output
    options = {a for a in args if a.startswith("--")}
    for opt in options:
        assert opt in result.output, f"rampup serve has no {opt}"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose" / "compose.yaml").read_text())
    return data


def test_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor")
                        .joinpath("compose-spec.json").read_text(encoding="utf-8"))
    jsonschema.validate(_compose(), schema)
    broken = _compose()
    broken["services"]["postgres"]["imagee"] = "postgres:16"  # a typo the spec refuses
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_compose_runs_two_replicas_on_postgres_scraped_and_charted() -> None:
    services = _compose()["services"]
    replicas = [s for s in services if s.startswith("rampup-")]
    assert len(replicas) == 2
    for name in replicas:
        svc = services[name]
        assert svc["environment"]["RAMPUP_DATABASE_URL"].startswith("postgresql://")
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / "compose" / svc["build"]["context"] / svc["build"]["dockerfile"]
                ).resolve().exists()
    prom = yaml.safe_load((DEPLOY / "compose" / "prometheus" / "prometheus.yml").read_text())
    [job] = prom["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert sorted(job["static_configs"][0]["targets"]) == [f"{r}:8000" for r in replicas]
    for svc in ("prometheus", "grafana"):
        for mount in services[svc]["volumes"]:
            host = mount.split(":")[0]
            assert (DEPLOY / "compose" / host).exists(), mount
    ds = yaml.safe_load((DEPLOY / "compose" / "grafana" / "provisioning" / "datasources"
                         / "prometheus.yml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"


def test_the_exports_compose_names_work(tmp_path: Path) -> None:
    uid = yaml.safe_load((DEPLOY / "compose" / "grafana" / "provisioning" / "datasources"
                          / "prometheus.yml").read_text())["datasources"][0]["uid"]
    out = tmp_path / "credit.json"
    result = runner.invoke(cli, ["export", "grafana", "credit",
                                 "--datasource-uid", uid, "-o", str(out)])
    assert result.exit_code == 0, result.output
    board = json.loads(out.read_text())
    uids = {p["datasource"]["uid"] for p in board["panels"] if "datasource" in p}
    assert uids == {uid}


def _dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_runs_non_root_with_a_healthcheck() -> None:
    steps = _dockerfile()
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM"):]
    users = [rest for w, rest in final if w == "USER"]
    assert users, "the final stage sets no USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    last_run = max(i for i, (w, _) in enumerate(final) if w == "RUN")
    assert max(i for i, (w, _) in enumerate(final) if w == "USER") > last_run
    [health] = [rest for w, rest in final if w == "HEALTHCHECK"]
    assert "/healthz" in health
    [cmd] = [rest for w, rest in final if w == "CMD"]
    args = json.loads(cmd)
    assert args[:2] == ["rampup", "serve"]
    _serve_args_are_accepted(args[2:])
    for w, rest in steps:
        if w == "COPY" and not rest.startswith("--from"):
            for src in shlex.split(rest)[:-1]:
                assert (DEPLOY.parent / src).exists(), src
