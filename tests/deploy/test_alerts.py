"""The alerts as kustomize renders them: promtool checks the rules and runs their unit tests
(tests/deploy/alerts.test.yaml, a firing and a quiet case for each alert); every alert is tested and
carries what an operator needs; the namespace the rules watch is the one the manifests land in.

promtool comes from Debian's ``prometheus`` package (scripts/ensure-test-tools.sh installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aic_common.testing.fixtures import unavailable

from .conftest import NAMESPACE, kustomize

HERE = Path(__file__).resolve().parent
ALERT_TESTS = HERE / "alerts.test.yaml"
RULES_FILE = "aic-alerts.rules.yaml"  # the name alerts.test.yaml's rule_files gives
SEVERITIES = {"critical", "warning"}
_NAMESPACE_MATCHER = re.compile(r'namespace\s*=~?\s*"([^"]*)"')
_SELECTOR = re.compile(r"\b((?:kube|http|aic)_[a-z_]+)(\{[^}]*\})?")


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        unavailable("promtool", "apt-get install prometheus (scripts/ensure-test-tools.sh)")
    assert path is not None
    return path


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, check=False, timeout=120, cwd=cwd
    )


@pytest.fixture(scope="module")
def rule(k8s_tree: Path) -> dict[str, Any]:
    """The PrometheusRule of the overlay that adds the monitoring component to prod."""
    documents = kustomize(k8s_tree / "overlays" / "prod-monitored")
    (found,) = [d for d in documents if d["kind"] == "PrometheusRule"]
    return found


def alerts_of(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def write_rules(rule: dict[str, Any], directory: Path) -> Path:
    """The PrometheusRule's groups as the plain rules file promtool reads, beside the unit tests."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RULES_FILE
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False), encoding="utf-8")
    shutil.copy(ALERT_TESTS, directory / ALERT_TESTS.name)
    return path


def test_promtool_accepts_the_rendered_rules_and_their_unit_tests_pass(
    rule: dict[str, Any], tmp_path: Path
) -> None:
    rules = write_rules(rule, tmp_path)
    checked = run_promtool("check", "rules", str(rules), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run_promtool("test", "rules", ALERT_TESTS.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_unit_tests_would_catch_an_alert_that_changed(rule: dict[str, Any], tmp_path: Path) -> None:
    changed = yaml.safe_load(yaml.safe_dump(rule))
    for alert in alerts_of(changed):
        if alert["alert"] == "AicOutboxLagging":
            alert["expr"] = alert["expr"].replace("> 120", "> 1200")
    write_rules(changed, tmp_path)
    tested = run_promtool("test", "rules", ALERT_TESTS.name, cwd=tmp_path)
    assert tested.returncode != 0 and "AicOutboxLagging" in tested.stdout + tested.stderr


def test_every_alert_has_a_firing_and_a_quiet_unit_test(rule: dict[str, Any]) -> None:
    cases = yaml.safe_load(ALERT_TESTS.read_text(encoding="utf-8"))["tests"]
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in cases:
        for check in case["alert_rule_test"]:
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {alert["alert"] for alert in alerts_of(rule)}
    assert len(names) == len(alerts_of(rule)), "alert names are unique"
    assert names - firing == set(), "alerts without a case where they fire"
    assert names - quiet == set(), "alerts without a case where they must not fire"
    assert (firing | quiet) - names == set(), "tests of alerts that do not exist"


def test_every_alert_says_how_bad_and_what_happened(rule: dict[str, Any]) -> None:
    for alert in alerts_of(rule):
        name = alert["alert"]
        assert alert["labels"]["severity"] in SEVERITIES, name
        assert alert["annotations"]["summary"].strip(), name
        assert len(alert["annotations"]["description"]) > 60, name
        # A flapping condition should not page: all but a one-off event wait before firing.
        if name != "AicMigrationFailed":
            assert alert.get("for"), f"{name} has no for:"


def test_the_rules_watch_the_namespace_the_services_land_in(rule: dict[str, Any]) -> None:
    # The rule is namespaced by components/namespace, like everything else.
    assert rule["metadata"]["namespace"] == NAMESPACE
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for alert in alerts_of(rule):
        expr = alert["expr"]
        assert set(_NAMESPACE_MATCHER.findall(expr)) <= {NAMESPACE}, alert["alert"]
        # kube-state-metrics and http_requests_total describe every namespace: each selector names ours.
        for metric, selector in _SELECTOR.findall(expr):
            assert selector and f'namespace="{NAMESPACE}"' in selector, f"{alert['alert']}: {metric}"
