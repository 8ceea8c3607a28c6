"""Every object an overlay renders lands in the one namespace, and every name one object gives another
(a Secret, a ConfigMap, a ServiceAccount, a Service, the pods a selector means, a host name in the
configuration) resolves to an object of the same rendered set in that namespace, as it must once
``kubectl apply -k`` has put them in a cluster."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import NAMESPACE, Manifests, kustomize, selects, url_endpoint

pytestmark = pytest.mark.unit

# Kinds that live outside any namespace (a namespace set on them is ignored by the API server).
CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "PersistentVolume",
        "StorageClass",
        "IngressClass",
        "PriorityClass",
        "CustomResourceDefinition",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")


@pytest.fixture(scope="module", params=["dev", "prod", "prod-monitored"])
def rendered(request: pytest.FixtureRequest, k8s_tree: Path) -> Manifests:
    return Manifests(request.param, kustomize(k8s_tree / "overlays" / request.param))


def namespace_of(document: dict[str, Any]) -> str | None:
    return document["metadata"].get("namespace")


def label(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"


def pod_templates(manifests: Manifests) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) for every kind that runs pods, a CronJob's through its Job template."""
    for document in manifests.documents:
        if document["kind"] not in WORKLOAD_KINDS:
            continue
        spec = document["spec"]
        if document["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        yield document, spec["template"]


def pod_label_sets(manifests: Manifests) -> list[dict[str, str]]:
    return [template["metadata"].get("labels") or {} for _, template in pod_templates(manifests)]


def selects_some_pod(manifests: Manifests, selector: dict[str, Any]) -> bool:
    return any(selects(selector, labels) for labels in pod_label_sets(manifests))


def references(manifests: Manifests) -> Iterator[tuple[str, str, str]]:
    """(the object that refers, the kind it names, the name) for every by-name reference."""
    for workload, template in pod_templates(manifests):
        source = label(workload)
        pod = template["spec"]
        if pod.get("serviceAccountName", "default") != "default":  # the cluster makes "default"
            yield source, "ServiceAccount", pod["serviceAccountName"]
        for secret in pod.get("imagePullSecrets") or []:
            yield source, "Secret", secret["name"]
        for container in [*(pod.get("initContainers") or []), *pod["containers"]]:
            for entry in container.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in entry and not entry[key].get("optional"):
                        yield source, kind, entry[key]["name"]
            for variable in container.get("env") or []:
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    reference = (variable.get("valueFrom") or {}).get(key)
                    if reference and not reference.get("optional"):
                        yield source, kind, reference["name"]
        for volume in pod.get("volumes") or []:
            if "configMap" in volume and not volume["configMap"].get("optional"):
                yield source, "ConfigMap", volume["configMap"]["name"]
            if "secret" in volume and not volume["secret"].get("optional"):
                yield source, "Secret", volume["secret"]["secretName"]
            if "persistentVolumeClaim" in volume:
                yield source, "PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]
            for projected in (volume.get("projected") or {}).get("sources") or []:
                for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                    if key in projected and not projected[key].get("optional"):
                        yield source, kind, projected[key]["name"]
        if workload["kind"] == "StatefulSet":
            yield source, "Service", workload["spec"]["serviceName"]
    for ingress in manifests.of_kind("Ingress"):
        # cert-manager makes the TLS Secret of an Ingress it is asked to; otherwise it must be there.
        issued = "cert-manager.io/cluster-issuer" in (ingress["metadata"].get("annotations") or {})
        for tls in ingress["spec"].get("tls") or []:
            if not issued:
                yield label(ingress), "Secret", tls["secretName"]
        for rule in ingress["spec"].get("rules") or []:
            for path in rule["http"]["paths"]:
                yield label(ingress), "Service", path["backend"]["service"]["name"]
    for autoscaler in manifests.of_kind("HorizontalPodAutoscaler"):
        target = autoscaler["spec"]["scaleTargetRef"]
        yield label(autoscaler), target["kind"], target["name"]
    for monitor in manifests.of_kind("ServiceMonitor"):
        for endpoint in monitor["spec"]["endpoints"]:
            credentials = (endpoint.get("authorization") or {}).get("credentials")
            if credentials:
                yield label(monitor), "Secret", credentials["name"]


def hosts_in_configuration(manifests: Manifests) -> Iterator[tuple[str, str, str]]:
    """(workload, variable, host) for every URL a container's configuration points at."""
    for workload, template in pod_templates(manifests):
        for container in [*(template["spec"].get("initContainers") or []), *template["spec"]["containers"]]:
            for name, value in manifests.environment(container).items():
                endpoint = url_endpoint(value)
                if endpoint is not None:
                    yield label(workload), name, endpoint[0]


def test_every_namespaced_object_is_in_the_one_namespace(rendered: Manifests) -> None:
    outside = [
        f"{label(document)} in {namespace_of(document) or 'the current context namespace'}"
        for document in rendered.documents
        if document["kind"] not in CLUSTER_SCOPED and namespace_of(document) != NAMESPACE
    ]
    assert not outside, f"{rendered.name}: {outside}"
    assert [d["metadata"]["name"] for d in rendered.of_kind("Namespace")] == [NAMESPACE]


def test_every_object_named_by_another_is_rendered_in_the_same_namespace(rendered: Manifests) -> None:
    dangling = []
    for source, kind, name in references(rendered):
        found = rendered.find(kind, name)
        if found is None or namespace_of(found) != NAMESPACE:
            dangling.append(f"{source} -> {kind}/{name}")
    assert not dangling, f"{rendered.name}: {dangling}"


def test_every_selector_means_pods_that_are_rendered(rendered: Manifests) -> None:
    empty = []
    for service in rendered.of_kind("Service"):
        selector = service["spec"].get("selector")
        if selector and not selects_some_pod(rendered, {"matchLabels": selector}):
            empty.append(label(service))
    for budget in rendered.of_kind("PodDisruptionBudget"):
        if not selects_some_pod(rendered, budget["spec"]["selector"]):
            empty.append(label(budget))
    for policy in rendered.of_kind("NetworkPolicy"):
        spec = policy["spec"]
        if not selects_some_pod(rendered, spec["podSelector"]):
            empty.append(label(policy))
        # A peer named by pod labels alone is a pod of the policy's own namespace.
        for rule in [*(spec.get("ingress") or []), *(spec.get("egress") or [])]:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                own_namespace = "podSelector" in peer and "namespaceSelector" not in peer
                if own_namespace and not selects_some_pod(rendered, peer["podSelector"]):
                    empty.append(f"{label(policy)} peer {peer['podSelector']}")
    for monitor in rendered.of_kind("ServiceMonitor"):
        if not any(
            selects(monitor["spec"]["selector"], s["metadata"].get("labels") or {})
            for s in rendered.of_kind("Service")
        ):
            empty.append(label(monitor))
    assert not empty, f"{rendered.name}: these select nothing: {empty}"


def test_every_host_in_the_configuration_is_a_rendered_service_or_outside_the_cluster(
    rendered: Manifests,
) -> None:
    """A name without a dot resolves, from a pod, to a Service of the pod's own namespace; a cluster
    name (``name.namespace.svc``) to that namespace's Service; anything else is outside the cluster."""
    unresolved = []
    checked = 0
    for source, variable, host in hosts_in_configuration(rendered):
        if "." not in host:
            service, namespace = host, NAMESPACE
        elif ".svc" in host:
            service, namespace = host.split(".")[:2]
        else:
            continue
        checked += 1
        found = rendered.find("Service", service)
        if namespace != NAMESPACE or found is None or namespace_of(found) != NAMESPACE:
            unresolved.append(f"{source} {variable} -> {host}")
    assert checked >= 5, f"{rendered.name}: the in-cluster hosts were not found"
    assert not unresolved, f"{rendered.name}: {unresolved}"
