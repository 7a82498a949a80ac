"""The Kubernetes manifests as a user applies them: every kustomization in deploy/kubernetes is
rendered with `kubectl kustomize` (on the machine image, like CI's) and every object is validated
against the Kubernetes schemas (`kubernetes-validate`, strict: unknown fields fail) for the oldest
and newest version it ships, and ServiceMonitor/PrometheusRule against the Prometheus Operator
CRDs vendored in tests/fixtures/crds (the compatibility floor docs/kubernetes.md states). Then the
kube-prometheus-stack wiring: the release label, the dashboard ConfigMaps, the pinned image."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from cdc_watch import __version__
from generate import kubernetes_dashboards
from generate.panels import ALL as DASHBOARDS

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "kubernetes"
CRDS = Path(__file__).resolve().parents[1] / "fixtures" / "crds"
KUSTOMIZATIONS = ("base", "examples/kube-prometheus-stack", "examples/ha")
PLAIN_MANIFESTS = ("base/secret.example.yaml", "examples/strimzi/networkpolicy.yaml")
# Oldest and newest schema kubernetes-validate ships; docs/kubernetes.md names the oldest as the floor.
KUBERNETES_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
IMAGE = "ghcr.io/cdc-watch/cdc-watch"
RELEASE = "kube-prometheus-stack"


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (for `kubectl kustomize`) is not on PATH; the machine image ships it"
    done = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


@cache
def rendered(name: str) -> tuple[dict[str, Any], ...]:
    return tuple(kustomize(K8S / name))


def every_object() -> list[tuple[str, dict[str, Any]]]:
    out = [(name, obj) for name in KUSTOMIZATIONS for obj in rendered(name)]
    out += [(name, yaml.safe_load((K8S / name).read_text())) for name in PLAIN_MANIFESTS]
    return out


def closed(schema: Any) -> Any:
    """The CRD schema with unknown fields refused: the API server prunes them silently, so a
    misspelt field (keep_firing_for, scrapeTimeout) would vanish instead of failing."""
    if isinstance(schema, dict):
        out = {k: closed(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [closed(v) for v in schema]
    return schema


@cache
def crd_validator(kind: str) -> jsonschema.Draft7Validator:
    for path in CRDS.glob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        if crd["spec"]["names"]["kind"] == kind:
            (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
            return jsonschema.Draft7Validator(closed(version["schema"]["openAPIV3Schema"]))
    raise AssertionError(f"no vendored CRD for {kind}")


def problems(obj: dict[str, Any]) -> list[str]:
    if obj["apiVersion"] == "monitoring.coreos.com/v1":
        return [f"{list(e.absolute_path)}: {e.message}" for e in crd_validator(obj["kind"]).iter_errors(obj)]
    found = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"Kubernetes {version}: {exc}")
    return found


# ---------------------------------------------------------------- schemas


@pytest.mark.parametrize(
    ("where", "obj"), every_object(), ids=lambda v: v if isinstance(v, str) else f"{v['kind']}/{v['metadata']['name']}"
)
def test_every_object_is_valid_for_kubernetes_and_the_operator_crds(where, obj):
    assert problems(obj) == []


def test_validation_catches_unknown_and_wrong_fields():
    deployment = next(o for o in rendered("base") if o["kind"] == "Deployment")
    bad = copy.deepcopy(deployment)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 3
    bad["spec"]["replica"] = 1
    assert len(problems(bad)) == len(KUBERNETES_VERSIONS)
    rule = next(o for o in rendered("base") if o["kind"] == "PrometheusRule")
    bad = copy.deepcopy(rule)
    bad["spec"]["groups"][0]["rules"][0]["keepFiringFor"] = "1m"  # the field is keep_firing_for
    assert problems(bad) != []
    monitor = next(o for o in rendered("base") if o["kind"] == "ServiceMonitor")
    bad = copy.deepcopy(monitor)
    bad["spec"]["endpoints"][0]["interval"] = "30 seconds"
    assert problems(bad) != []


def test_the_vendored_floor_accepts_keep_firing_for():
    rule = next(o for o in rendered("base") if o["kind"] == "PrometheusRule")
    assert any("keep_firing_for" in r for g in rule["spec"]["groups"] for r in g["rules"])


def test_every_kustomization_and_plain_manifest_is_covered():
    found = {p.parent.relative_to(K8S).as_posix() for p in K8S.rglob("kustomization.yaml")}
    assert found == set(KUSTOMIZATIONS) | {"components/kube-prometheus-stack"}  # a Component renders in an overlay
    listed = {n for n in PLAIN_MANIFESTS}
    in_kustomizations = set()
    for name in found:
        kustomization = yaml.safe_load((K8S / name / "kustomization.yaml").read_text())
        in_kustomizations |= {f"{name}/{r}" for r in kustomization.get("resources", []) if r.endswith(".yaml")}
        in_kustomizations |= {f"{name}/{p['path']}" for p in kustomization.get("patches", []) if "path" in p}
        for generated in kustomization.get("configMapGenerator", []):
            in_kustomizations |= {f"{name}/{f}" for f in generated.get("files", [])}
    on_disk = {p.relative_to(K8S).as_posix() for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml"}
    assert on_disk == listed | in_kustomizations


# ---------------------------------------------------------------- kube-prometheus-stack


def by_kind(objects: tuple[dict[str, Any], ...], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def test_operator_objects_carry_the_release_label_kube_prometheus_stack_selects():
    objects = rendered("examples/kube-prometheus-stack")
    for kind in ("ServiceMonitor", "PrometheusRule"):
        (obj,) = by_kind(objects, kind)
        assert obj["metadata"]["labels"]["release"] == RELEASE, kind
    for obj in rendered("base"):
        assert "release" not in obj["metadata"].get("labels", {}), "the base stays neutral"


def test_an_overlay_sets_another_release_name(tmp_path):
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "resources": [os.path.relpath(K8S / "base", overlay)],
                "components": [os.path.relpath(K8S / "components" / "kube-prometheus-stack", overlay)],
                "patches": [
                    {
                        "target": {"group": "monitoring.coreos.com", "version": "v1"},
                        "patch": '[{"op": "replace", "path": "/metadata/labels/release", "value": "prom"}]',
                    }
                ],
            }
        )
    )
    objects = tuple(kustomize(overlay))
    releases = {o["kind"]: o["metadata"]["labels"].get("release") for o in objects}
    assert releases["ServiceMonitor"] == releases["PrometheusRule"] == "prom"
    assert "release" not in by_kind(objects, "Deployment")[0]["metadata"]["labels"]


def test_dashboards_ship_as_sidecar_configmaps_equal_to_the_json_files():
    objects = rendered("examples/kube-prometheus-stack")
    maps = {
        o["metadata"]["name"]: o
        for o in by_kind(objects, "ConfigMap")
        if "grafana_dashboard" in o["metadata"]["labels"]
    }
    assert set(maps) == {d.uid for d in DASHBOARDS}
    for uid, obj in maps.items():
        assert obj["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert obj["metadata"]["namespace"] == "monitoring"
        assert obj["data"] == {f"{uid}.json": (REPO / "dashboards" / f"{uid}.json").read_text()}
        assert len(json.dumps(obj).encode()) < kubernetes_dashboards.MAX_BYTES < 256 * 1024


def test_dashboard_configmap_bound_is_enforced(monkeypatch):
    monkeypatch.setattr(kubernetes_dashboards, "MAX_BYTES", 1000)
    with pytest.raises(SystemExit, match="over 1000"):
        kubernetes_dashboards.render()


def test_servicemonitor_job_is_the_service_name_the_self_alerts_select():
    from generate.alert_rules import DEFAULT_JOB

    (service,) = by_kind(rendered("base"), "Service")
    (monitor,) = by_kind(rendered("base"), "ServiceMonitor")
    assert "jobLabel" not in monitor["spec"]  # so the Operator names the job after the Service
    assert service["metadata"]["name"] == DEFAULT_JOB


# ---------------------------------------------------------------- image


def test_image_is_pinned_to_this_release_not_latest():
    for name in KUSTOMIZATIONS:
        (deployment,) = by_kind(rendered(name), "Deployment")
        image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        assert image == f"{IMAGE}:{__version__}", name
    overlay = yaml.safe_load((K8S / "examples" / "kube-prometheus-stack" / "kustomization.yaml").read_text())
    assert overlay["images"] == [{"name": IMAGE, "newTag": __version__}]


def test_rules_from_your_config_patch_over_the_shipped_ones(tmp_path):
    from generate import prometheus_rule

    tree = tmp_path / "kubernetes"
    shutil.copytree(K8S, tree)
    overlay = tree / "examples" / "kube-prometheus-stack"
    config = tmp_path / "config.yaml"
    config.write_text("connect_clusters:\n  - url: http://connect:8083\nalerting:\n  rules:\n    streaming_lag: 10m\n")
    args = ["--config", str(config), "--job", "cdc-prod", "--output", str(overlay / "prometheusrule.yaml")]
    assert prometheus_rule.main(args) == 0
    text = (overlay / "kustomization.yaml").read_text()
    assert "  # - path: prometheusrule.yaml\n" in text, "the overlay documents the patch (item 5)"
    (overlay / "kustomization.yaml").write_text(
        text.replace("  # - path: prometheusrule.yaml\n", "  - path: prometheusrule.yaml\n")
    )
    (rule,) = by_kind(tuple(kustomize(overlay)), "PrometheusRule")
    assert problems(rule) == []
    assert rule["metadata"]["labels"]["release"] == RELEASE and rule["metadata"]["namespace"] == "monitoring"
    exprs = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert 'up{job="cdc-prod"}' in exprs["CdcWatchDown"]
    assert "> 600" in exprs["CdcStreamingLagHigh"]


def test_your_config_replaces_the_example_one(tmp_path):
    tree = tmp_path / "kubernetes"
    shutil.copytree(K8S, tree)
    overlay = tree / "examples" / "kube-prometheus-stack"
    mine = "connect_clusters:\n  - url: http://my-connect-connect-api.kafka.svc:8083\n"
    (overlay / "config.yaml").write_text(mine)
    text = (overlay / "kustomization.yaml").read_text()
    start = text.index("# configMapGenerator:")
    block = "\n".join(line.replace("# ", "", 1) for line in text[start:].splitlines())
    (overlay / "kustomization.yaml").write_text(text[:start] + block + "\n")
    objects = tuple(kustomize(overlay))
    (config_map,) = [o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"] == "cdc-watch-config"]
    assert config_map["data"] == {"config.yaml": mine}
    (deployment,) = by_kind(objects, "Deployment")
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "config", "configMap": {"name": "cdc-watch-config"}} in volumes
    assert problems(config_map) == []


def test_the_ha_example_runs_two_replicas_with_a_disruption_budget_and_an_ha_config(tmp_path):
    from cdc_watch.config import load_config
    from cdc_watch.rules.table import ALERT_NAMES

    objects = tuple(kustomize(K8S / "examples" / "ha"))
    (deployment,) = by_kind(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    (budget,) = by_kind(objects, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]
    (config_map,) = [o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"] == "cdc-watch-config"]
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    assert (
        load_config(path, alert_names=ALERT_NAMES).high_availability is not None
    )  # without it both replicas would act
