"""Packaging checks: Dockerfile (statically: no Docker engine here), Kubernetes manifests and the
docker-compose pipeline, cross-checked against the config schema, the daemon's defaults and the
shipped alert rules. Generated manifests must equal what their scripts produce now.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from cdc_watch import __version__
from cdc_watch.commands.connect_views import load_connector_file
from cdc_watch.config import DEFAULT_LISTEN_ADDRESS, parse_config
from generate import kubernetes_config, prometheus_rule

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes" / "base"
COMPOSE = REPO / "deploy" / "docker-compose"
PORT = int(DEFAULT_LISTEN_ADDRESS.rsplit(":", 1)[1])
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load(path: Path) -> dict:
    docs = list(yaml.safe_load_all(path.read_text()))
    assert len(docs) == 1, path
    return docs[0]


def with_dummy_secrets(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_REF.findall(text):
        monkeypatch.setenv(name, "dummy-value")


# ---------------------------------------------------------------- Dockerfile


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_multi_stage_on_slim_python():
    steps = dockerfile()
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for word, rest in steps if word == "ARG" and "=" in rest}
    froms = [rest for word, rest in steps if word == "FROM"]
    assert len(froms) >= 2
    for base in froms:
        image = base.split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert re.fullmatch(r"python:3\.11-slim(-\w+)?", image), image


def test_dockerfile_runs_as_non_root_and_exposes_the_metrics_port():
    steps = dockerfile()
    last_from = max(i for i, (w, _) in enumerate(steps) if w == "FROM")
    runtime = steps[last_from:]
    users = [rest for w, rest in runtime if w == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert [rest for w, rest in runtime if w == "EXPOSE"] == [str(PORT)]


def test_dockerfile_healthcheck_and_command_match_the_daemon():
    steps = dict(dockerfile()[max(i for i, (w, _) in enumerate(dockerfile()) if w == "FROM") :])
    assert f"http://127.0.0.1:{PORT}/-/healthy" in steps["HEALTHCHECK"]
    assert json.loads(steps["ENTRYPOINT"]) == ["cdc-watch"]
    cmd = json.loads(steps["CMD"])
    assert cmd[0] == "run"
    assert f"--web.listen-address=:{PORT}" in cmd
    assert "--config.file=/etc/cdc-watch/config.yaml" in cmd
    # state_file of the example config lives on the declared volume
    volume = json.loads(steps["VOLUME"])
    example = yaml.safe_load((REPO / "config.example.yaml").read_text())
    assert str(Path(example["state_file"]).parent) in volume


def test_dockerfile_has_oci_labels():
    labels = " ".join(rest for w, rest in dockerfile() if w == "LABEL")
    for key in ("title", "description", "licenses", "version", "revision", "source"):
        assert f"org.opencontainers.image.{key}=" in labels


def test_dockerignore_lets_every_copied_file_through():
    ignore = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    for word, rest in dockerfile():
        if word == "COPY" and "--from" not in rest:
            sources = [s for s in shlex.split(rest) if not s.startswith("--")][:-1]
            for source in sources:
                assert source in allowed, source
                assert (REPO / source).exists(), source


def test_build_image_script_tags_version_and_revision_and_sets_the_labels(tmp_path):
    env = {"PATH": os.environ["PATH"], "DOCKER": "echo", "HOME": str(tmp_path)}
    done = subprocess.run(
        [str(REPO / "scripts" / "build-image"), "registry.test/cdc"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    argv = done.stdout.split()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    build_args = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "--build-arg")
    assert build_args["VERSION"] == __version__
    assert build_args["REVISION"] in (head.strip(), head.strip() + "-dirty")
    tags = [argv[i + 1] for i, a in enumerate(argv) if a == "-t"]
    assert tags == [f"registry.test/cdc:{__version__}", f"registry.test/cdc:{__version__}-{head[:12]}"]
    assert argv[0] == "build" and argv[-1] == str(REPO)
    # the Dockerfile turns both into labels
    labels = " ".join(rest for w, rest in dockerfile() if w == "LABEL")
    assert 'version="${VERSION}"' in labels and 'revision="${REVISION}"' in labels


def test_build_image_passes_a_pinned_base_image(tmp_path):
    env = {"PATH": os.environ["PATH"], "DOCKER": "echo", "PYTHON_IMAGE": "python:3.11-slim-bookworm@sha256:" + "a" * 64}
    done = subprocess.run([str(REPO / "scripts" / "build-image")], capture_output=True, text=True, env=env, timeout=60)
    assert f"PYTHON_IMAGE={env['PYTHON_IMAGE']}" in done.stdout.split()


# ---------------------------------------------------------------- Kubernetes


def test_every_manifest_parses_and_kustomization_lists_them():
    kustomization = load(K8S / "kustomization.yaml")
    for name in kustomization["resources"]:
        doc = load(K8S / name)
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert on_disk == listed


def test_configmap_embeds_the_example_config_exactly_and_it_is_valid(monkeypatch):
    example = (REPO / "config.example.yaml").read_text()
    configmap = load(K8S / "configmap.yaml")
    assert configmap["data"]["config.yaml"] == example
    with_dummy_secrets(example, monkeypatch)
    parse_config(yaml.safe_load(configmap["data"]["config.yaml"]))


def test_generated_kubernetes_config_is_up_to_date():
    gen = kubernetes_config
    example = (REPO / "config.example.yaml").read_text()
    assert (K8S / "configmap.yaml").read_text() == gen.render_configmap(example)
    assert (K8S / "secret.example.yaml").read_text() == gen.render_secret(example)


def test_configmap_generator_round_trips_awkward_text():
    gen = kubernetes_config
    for text in ("a: 1\n", "a: 1\n\n\n", "# c\n\nb:\n  - x: '|'\n", "a: 1"):
        data = yaml.safe_load(gen.render_configmap(text))["data"]["config.yaml"]
        assert data == (text if text.endswith("\n") else text + "\n")


def test_secret_example_lists_every_secret_the_config_references():
    example = (REPO / "config.example.yaml").read_text()
    wanted = set(ENV_REF.findall("\n".join(line for line in example.splitlines() if not line.lstrip().startswith("#"))))
    secret = load(K8S / "secret.example.yaml")
    assert set(secret.get("stringData") or {}) == wanted
    deployment = load(K8S / "deployment.yaml")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": secret["metadata"]["name"]}} in container["envFrom"]


def test_deployment_probes_ports_mounts_and_security():
    deployment = load(K8S / "deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": PORT}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "metrics"}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["strategy"]["type"] == "Recreate"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    # the config file the daemon is told to read is the ConfigMap's key, mounted
    args = dict(a.split("=", 1) for a in container["args"] if a.startswith("--"))
    assert args["--web.listen-address"] == f":{PORT}"
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    config_path = Path(args["--config.file"])
    volume = next(v for v in pod["volumes"] if v["name"] == mounts[str(config_path.parent)])
    assert volume["configMap"]["name"] == load(K8S / "configmap.yaml")["metadata"]["name"]
    assert config_path.name in load(K8S / "configmap.yaml")["data"]
    # read-only root: the state file's directory must be a writable volume
    example = yaml.safe_load((REPO / "config.example.yaml").read_text())
    assert str(Path(example["state_file"]).parent) in mounts


def test_service_and_servicemonitor_select_the_pods():
    pod_labels = load(K8S / "deployment.yaml")["spec"]["template"]["metadata"]["labels"]
    service = load(K8S / "service.yaml")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [("metrics", PORT, "metrics")]
    monitor = load(K8S / "servicemonitor.yaml")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_prometheusrule_is_generated_from_alert_rules():
    gen = prometheus_rule
    assert (K8S / "prometheusrule.yaml").read_text() == gen.render()
    expected = []
    for path in sorted((REPO / "alert_rules").glob("*.rules.yml")):
        expected += yaml.safe_load(path.read_text())["groups"]
    assert load(K8S / "prometheusrule.yaml")["spec"]["groups"] == expected


def test_prometheusrule_generator_with_no_one_and_two_rule_files(tmp_path):
    gen = prometheus_rule
    assert yaml.safe_load(gen.render(tmp_path))["spec"]["groups"] == []
    (tmp_path / "b.rules.yml").write_text(
        "groups:\n  - name: b\n    rules:\n      - alert: CdcB\n        expr: |\n          sum by (connector) (\n            up\n          ) == 0\n"
        "        for: 5m\n        labels: {severity: warning}\n"
    )
    (tmp_path / "a.rules.yml").write_text("groups:\n  - name: a\n    rules:\n      - record: cdc:x\n        expr: up\n")
    (tmp_path / "notes.yml").write_text("not: a rule file\n")
    manifest = yaml.safe_load(gen.render(tmp_path))
    assert [g["name"] for g in manifest["spec"]["groups"]] == ["a", "b"]
    assert manifest["spec"]["groups"][1]["rules"][0]["expr"] == "sum by (connector) (\n  up\n) == 0\n"
    assert manifest["kind"] == "PrometheusRule"


# ---------------------------------------------------------------- docker-compose


def compose() -> dict:
    return load(COMPOSE / "compose.yaml")


def test_compose_has_the_whole_pipeline():
    services = compose()["services"]
    assert set(services) >= {"kafka", "mysql", "connect", "cdc-watch", "prometheus", "grafana"}
    connect = services["connect"]
    assert connect["image"].startswith("quay.io/debezium/connect:")
    assert connect["environment"]["ENABLE_JOLOKIA"] == "true"
    assert services["cdc-watch"]["build"]["context"] == "../.."
    assert f"{PORT}:{PORT}" in services["cdc-watch"]["ports"]


def test_compose_bind_mounts_exist():
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), f"{name}: {source}"


def test_compose_cdc_watch_config_is_valid_and_points_at_the_services(monkeypatch):
    services = compose()["services"]
    text = (COMPOSE / "cdc-watch.yaml").read_text()
    env = services["cdc-watch"]["environment"]
    assert set(ENV_REF.findall(text)) <= set(env), "every ${NAME} of the config must be set on the container"
    with_dummy_secrets(text, monkeypatch)
    config = parse_config(yaml.safe_load(text))
    mount = next(v for v in services["cdc-watch"]["volumes"] if v.startswith("./cdc-watch.yaml:"))
    assert mount.split(":")[1] == "/etc/cdc-watch/config.yaml"  # the image's default --config.file
    cluster = config.connect_clusters[0]
    assert cluster.urls == ("http://connect:8083",)
    assert cluster.jolokia is not None and ":8778/jolokia" in (cluster.jolokia.url_template or "")
    for database in config.databases:
        assert database.host in services
    assert str(config.state_file.parent) in {v.split(":")[1] for v in services["cdc-watch"]["volumes"]}


def test_compose_passwords_come_from_env_file():
    text = (COMPOSE / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = dict(
        line.split("=", 1)
        for line in (COMPOSE / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required and required == set(example)


def test_compose_prometheus_scrapes_cdc_watch_and_loads_the_rules():
    services = compose()["services"]
    prometheus = load(COMPOSE / "prometheus.yml")
    targets = [t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]]
    assert f"cdc-watch:{PORT}" in targets
    mounts = dict(v.split(":")[:2] for v in services["prometheus"]["volumes"])
    rules_mount = mounts["../../alert_rules"]
    assert prometheus["rule_files"] == [f"{rules_mount}/*.rules.yml"]


def test_compose_grafana_provisions_the_repository_dashboards():
    services = compose()["services"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    provider = load(COMPOSE / "grafana" / "provisioning" / "dashboards" / "cdc-watch.yaml")["providers"][0]
    assert provider["options"]["path"] == mounts["../../dashboards"]
    datasource = load(COMPOSE / "grafana" / "provisioning" / "datasources" / "prometheus.yaml")["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090" and "prometheus" in services


def test_compose_connector_definition_is_registrable_and_holds_no_password():
    name, config = load_connector_file((COMPOSE / "inventory-connector.json").read_text(), "inventory-connector.json")
    assert name == "inventory-connector"
    assert config["database.password"] == "${env:DEBEZIUM_PASSWORD}"
    assert config["database.hostname"] in compose()["services"]
    connect_env = compose()["services"]["connect"]["environment"]
    assert "DEBEZIUM_PASSWORD" in connect_env
    assert connect_env["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"].endswith("EnvVarConfigProvider")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH; scripts/bootstrap installs it (Debian prometheus, prometheus-alertmanager)"
    return path


def test_compose_prometheus_sends_alerts_to_the_alertmanager_service():
    services = compose()["services"]
    alertmanager = services["alertmanager"]
    flags = dict(a.split("=", 1) for a in alertmanager["command"])
    mounts = dict(v.split(":")[:2] for v in alertmanager["volumes"])
    assert mounts["./alertmanager.yml"] == flags["--config.file"]
    assert "9093:9093" in alertmanager["ports"]
    prometheus = load(COMPOSE / "prometheus.yml")
    targets = [
        t for am in prometheus["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]
    ]
    assert targets == ["alertmanager:9093"]
    assert "alertmanager" in services["prometheus"]["depends_on"]


def test_compose_alertmanager_config_passes_amtool():
    done = subprocess.run(
        [_tool("amtool"), "check-config", str(COMPOSE / "alertmanager.yml")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    route = load(COMPOSE / "alertmanager.yml")["route"]
    # grouped as cdc_watch's own alerts are: per connector or database
    assert set(route["group_by"]) >= {"alertname", "connect_cluster", "connector", "database"}


def test_compose_prometheus_config_passes_promtool_with_the_shipped_rules(tmp_path):
    config = load(COMPOSE / "prometheus.yml")
    config["rule_files"] = [str(REPO / "alert_rules" / "*.rules.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([_tool("promtool"), "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "SUCCESS: 1 rule files found" in out, out
    # The only remark allowed: the fast twins of CdcTaskFailed and CdcConnectorFailed (same
    # name and labels, disjoint conditions: retriable or not) are reported by the duplicate-rules
    # lint, which is not an error.
    if "lint error" in out:
        named = set(re.findall(r"Metric: (\w+)", out))
        assert "duplicate rule(s) found" in out and named <= {"CdcTaskFailed", "CdcConnectorFailed"}, out


def test_prometheusrule_generator_takes_a_config_and_a_job(tmp_path, monkeypatch):
    config = tmp_path / "cdc-watch.yaml"
    config.write_text(
        "connect_clusters:\n  - url: http://connect:8083\n"
        "alerting:\n  rules:\n    streaming_lag: 10m\n    overrides:\n      CdcTaskFailed: {for: 3m}\n"
    )
    out = tmp_path / "rule.yaml"
    assert prometheus_rule.main(["--config", str(config), "--job", "cdc-prod", "--output", str(out)]) == 0
    rules = [r for g in yaml.safe_load(out.read_text())["spec"]["groups"] for r in g["rules"]]
    groups = {r["alert"]: r for r in reversed(rules)}  # a name's first rule (its fast twin follows)
    assert groups["CdcTaskFailed"]["for"] == "3m"
    assert "> 600" in groups["CdcStreamingLagHigh"]["expr"]
    assert 'up{job="cdc-prod"}' in groups["CdcWatchDown"]["expr"]
    assert prometheus_rule.main(["--check", "--config", str(config), "--job", "cdc-prod", "--output", str(out)]) == 0
    # without inputs it is the committed file, built from alert_rules/
    assert prometheus_rule.main(["--check"]) == 0
