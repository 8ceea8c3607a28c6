"""checkov, an outside policy suite, over what is deployed: each rendered overlay (dev, prod, and prod
with the ServiceMonitor component) and the Dockerfile. Every failed check is either fixed or listed in
deploy/policy/checkov-exceptions.yaml with the reason it does not apply; an entry that no longer
matches any finding fails too. checkov runs offline (nothing downloaded, no update check, no platform
key), from its own locked environment that scripts/ensure-test-tools.sh installs into .tools/checkov.
docker-compose.yml: checkov has no framework for it (the exceptions file says what covers it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import DEPLOY, DOCKERFILE, REPO, Dockerfile, Manifests, kustomize, unavailable

pytestmark = pytest.mark.unit

CHECKOV = REPO / ".tools" / "checkov" / "bin" / "checkov"
POLICY = DEPLOY / "policy"
EXCEPTIONS_FILE = POLICY / "checkov-exceptions.yaml"
OVERLAY_TARGETS = ("dev", "prod", "prod-monitored")
DOCKERFILE_TARGET = "Dockerfile"
TARGETS = (*OVERLAY_TARGETS, DOCKERFILE_TARGET)
# Nothing leaves the machine: no mapping or policy download, no version check against PyPI, and no
# platform key that would make checkov upload results.
OFFLINE = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
PLATFORM_VARIABLES = ("BC_API_KEY", "PRISMA_API_URL", "BC_API_URL", "CKV_API_KEY")


@dataclass(frozen=True)
class Finding:
    target: str  # an overlay, or "Dockerfile"
    check: str
    name: str
    resource: str  # Kind/name of a rendered object; the instruction in the Dockerfile

    def __str__(self) -> str:
        return f"{self.target}: {self.check} ({self.name}) on {self.resource}"


@dataclass(frozen=True)
class PolicyException:
    check: str
    targets: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str

    def covers(self, finding: Finding, resource_pattern: str | None = None) -> bool:
        patterns = self.resources if resource_pattern is None else (resource_pattern,)
        return (
            finding.check == self.check
            and finding.target in self.targets
            and any(fnmatchcase(finding.resource, pattern) for pattern in patterns)
        )


@dataclass
class Scan:
    version: str
    findings: list[Finding]
    passed: dict[str, int]  # target -> passed checks
    summaries: list[dict[str, Any]]


def pinned_version() -> str:
    text = (POLICY / "checkov-requirements.in").read_text(encoding="utf-8")
    (version,) = re.findall(r"^checkov==(\S+)$", text, flags=re.MULTILINE)
    return version


def load_exceptions() -> list[PolicyException]:
    document = yaml.safe_load(EXCEPTIONS_FILE.read_text(encoding="utf-8"))
    entries = []
    for raw in document["exceptions"]:
        assert set(raw) == {"check", "targets", "resources", "reason"}, raw
        entry = PolicyException(raw["check"], tuple(raw["targets"]), tuple(raw["resources"]), raw["reason"])
        assert set(entry.targets) <= set(TARGETS), f"{entry.check}: unknown targets {entry.targets}"
        assert entry.resources and len(entry.reason.split()) >= 12, f"{entry.check}: say why, precisely"
        entries.append(entry)
    return entries


def target_of(file_path: str) -> str:
    name = Path(file_path).name
    return DOCKERFILE_TARGET if name == DOCKERFILE_TARGET else name.removesuffix(".yaml")


def resource_of(check_type: str, resource: str) -> str:
    if check_type == "dockerfile":
        return resource.rsplit(".", 1)[-1]  # "/Dockerfile.FROM" -> FROM
    kind, _namespace, name = resource.split(".", 2)  # Deployment.aic.auth
    return f"{kind}/{name}"


def run_checkov(directory: Path) -> list[dict[str, Any]]:
    if not os.access(CHECKOV, os.X_OK):
        unavailable("checkov", "run scripts/ensure-test-tools.sh (it installs checkov into .tools/checkov)")
    environment = {k: v for k, v in os.environ.items() if k not in PLATFORM_VARIABLES} | OFFLINE
    result = subprocess.run(
        [
            str(CHECKOV),
            "--directory",
            str(directory),
            "--framework",
            "kubernetes",
            "dockerfile",
            "--skip-download",
            "--output",
            "json",
            "--compact",
        ],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    # checkov exits 1 when any check failed; what counts is what the report says.
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        message = f"checkov gave no JSON report (exit {result.returncode}):\n{result.stderr}"
        raise AssertionError(message) from None
    return reports if isinstance(reports, list) else [reports]


@pytest.fixture(scope="module")
def scan(overlays: dict[str, Manifests], k8s_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Scan:
    """One checkov run over a directory holding exactly the rendered overlays and the Dockerfile."""
    directory = tmp_path_factory.mktemp("policy")
    rendered = {
        "dev": overlays["dev"].documents,
        "prod": overlays["prod"].documents,
        "prod-monitored": kustomize(k8s_tree / "overlays" / "prod-monitored"),
    }
    for name, documents in rendered.items():
        text = yaml.safe_dump_all(documents, sort_keys=False)
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    shutil.copyfile(DOCKERFILE, directory / DOCKERFILE_TARGET)
    reports = run_checkov(directory)
    findings: list[Finding] = []
    passed = dict.fromkeys(TARGETS, 0)
    versions = set()
    for report in reports:
        versions.add(report["summary"]["checkov_version"])
        for check in report["results"]["failed_checks"]:
            findings.append(
                Finding(
                    target_of(check["file_path"]),
                    check["check_id"],
                    check["check_name"],
                    resource_of(report["check_type"], check["resource"]),
                )
            )
        for check in report["results"]["passed_checks"]:
            passed[target_of(check["file_path"])] += 1
    (version,) = versions
    return Scan(version, findings, passed, [report["summary"] for report in reports])


def test_checkov_is_the_pinned_version_and_read_every_target(scan: Scan) -> None:
    assert scan.version == pinned_version()
    assert {summary["parsing_errors"] for summary in scan.summaries} == {0}
    # A target checkov skipped (a file it did not recognise) would otherwise pass unnoticed.
    for target in TARGETS:
        assert scan.passed[target] >= (100 if target == DOCKERFILE_TARGET else 300), (target, scan.passed)


def test_every_failed_check_is_fixed_or_a_reviewed_exception(scan: Scan) -> None:
    exceptions = load_exceptions()
    uncovered = [finding for finding in scan.findings if not any(e.covers(finding) for e in exceptions)]
    assert not uncovered, (
        f"{len(uncovered)} failed checks: fix them, or list them in {EXCEPTIONS_FILE.relative_to(REPO)} "
        "with the reason they do not apply:\n" + "\n".join(sorted(map(str, uncovered)))
    )


def test_every_exception_still_matches_a_finding(scan: Scan) -> None:
    stale = []
    for entry in load_exceptions():
        for target in entry.targets:
            for pattern in entry.resources:
                if not any(
                    entry.covers(finding, pattern) for finding in scan.findings if finding.target == target
                ):
                    stale.append(f"{entry.check} {target} {pattern}")
    assert not stale, (
        f"entries of {EXCEPTIONS_FILE.relative_to(REPO)} that no finding needs any more (remove them): "
        + ", ".join(stale)
    )


def test_the_base_images_checkov_cannot_read_are_version_tagged(dockerfile: Dockerfile) -> None:
    # CKV_DOCKER_7 sees FROM ${PYTHON_IMAGE} and the like; the defaults it does not expand are checked here.
    images = {name: value for name, value in dockerfile.arguments.items() if name.endswith("_IMAGE")}
    assert {"PYTHON_IMAGE", "NODE_IMAGE", "UV_IMAGE"} <= set(images)
    for name, image in images.items():
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}={image} names no version"
