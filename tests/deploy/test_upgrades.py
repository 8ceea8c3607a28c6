"""An upgrade is a plain ``kubectl apply -k``: the prod overlay rendered for two releases (two image
tags) holds no object, under one name in both, whose fields that the API server refuses to change
differ. Such an object (a Job whose pod template names the new image, say) makes the apply fail
until someone deletes it by hand."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import Manifests, kustomize

pytestmark = pytest.mark.unit

# Per kind: the paths (dotted, from the object's root) the API server refuses to change on an update,
# or "spec" minus the paths it accepts changes to. Kinds not listed can be updated in place.
IMMUTABLE_PATHS: dict[str, list[str]] = {
    "Deployment": ["spec.selector"],
    "ReplicaSet": ["spec.selector"],
    "DaemonSet": ["spec.selector"],
    "Service": ["spec.clusterIP", "spec.clusterIPs"],
    "PersistentVolumeClaim": [
        "spec.accessModes",
        "spec.selector",
        "spec.storageClassName",
        "spec.volumeMode",
    ],
    "RoleBinding": ["roleRef"],
    "ClusterRoleBinding": ["roleRef"],
}
# Kinds whose whole spec is fixed but for these fields.
MUTABLE_SPEC_FIELDS: dict[str, set[str]] = {
    "StatefulSet": {
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    },
    # A Job's template, selector, completions and the rest are fixed once it exists.
    "Job": {"parallelism", "activeDeadlineSeconds", "ttlSecondsAfterFinished", "suspend", "backoffLimit"},
}

RELEASES = ("1.4.0", "1.5.0")


def lookup(document: dict[str, Any], path: str) -> Any:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def immutable_part(document: dict[str, Any]) -> dict[str, Any]:
    """What of an object the API server keeps as it was created."""
    kind = document["kind"]
    part = {path: lookup(document, path) for path in IMMUTABLE_PATHS.get(kind, [])}
    if kind in MUTABLE_SPEC_FIELDS:
        spec = document.get("spec") or {}
        part["spec"] = {key: value for key, value in spec.items() if key not in MUTABLE_SPEC_FIELDS[kind]}
    if kind in ("ConfigMap", "Secret") and document.get("immutable"):
        part["data"] = (document.get("data"), document.get("binaryData"), document.get("stringData"))
    return part


def identity(document: dict[str, Any]) -> tuple[str, str, str]:
    metadata = document["metadata"]
    return document["kind"], metadata.get("namespace", ""), metadata["name"]


def unchangeable_differences(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Objects of one name in both releases whose fixed fields differ: ``kubectl apply`` fails on them."""
    earlier = {identity(document): document for document in before}
    problems = []
    for document in after:
        old = earlier.get(identity(document))
        if old is not None and immutable_part(old) != immutable_part(document):
            problems.append("/".join(identity(document)))
    return problems


def release_tree(k8s_tree: Path, destination: Path, tag: str) -> Path:
    """A copy of the k8s tree whose prod overlay deploys ``tag`` (the edit an operator makes)."""
    root = destination / tag
    shutil.copytree(k8s_tree, root)
    kustomization = root / "overlays" / "prod" / "kustomization.yaml"
    document = yaml.safe_load(kustomization.read_text(encoding="utf-8"))
    for image in document["images"]:
        image["newTag"] = tag
    kustomization.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def releases(k8s_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Manifests]:
    destination = tmp_path_factory.mktemp("releases")
    return [
        Manifests(f"prod {tag}", kustomize(release_tree(k8s_tree, destination, tag) / "overlays" / "prod"))
        for tag in RELEASES
    ]


def test_a_new_release_is_applied_over_the_last_one_without_deleting_anything(
    releases: list[Manifests],
) -> None:
    before, after = releases
    # The renders differ where a release should: every service runs the new tag.
    for deployment in after.of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            if "/aic/" in container["image"]:
                assert container["image"].endswith(f":{RELEASES[1]}"), container["image"]
    assert unchangeable_differences(before.documents, after.documents) == []
    # And back: a rollback by applying the previous tag.
    assert unchangeable_differences(after.documents, before.documents) == []


def test_the_check_catches_what_kubectl_apply_would_refuse(releases: list[Manifests]) -> None:
    before, _ = releases
    deployment = before.get("Deployment", "social")
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate-social", "namespace": "aic"},
        "spec": {"backoffLimit": 6, "template": copy.deepcopy(deployment["spec"]["template"])},
    }
    newer = copy.deepcopy(job)
    newer["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/aic/social:9.9.9"
    newer["spec"]["backoffLimit"] = 3  # a field that may change
    assert unchangeable_differences([job], [newer]) == ["Job/aic/migrate-social"]
    relabelled = copy.deepcopy(deployment)
    relabelled["spec"]["selector"]["matchLabels"]["release"] = "9.9.9"
    assert unchangeable_differences([deployment], [relabelled]) == ["Deployment/aic/social"]
    rescaled = copy.deepcopy(deployment)
    rescaled["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/aic/social:9.9.9"
    assert unchangeable_differences([deployment], [rescaled]) == []
