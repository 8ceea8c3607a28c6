"""The Grafana dashboard (deploy/monitoring/grafana-dashboard.json) and the alerts ask only for what is
exported: every panel's query parses (promtool checks it as a recording rule), and every metric a query
or an alert names is in a service's own Prometheus registry or on the list below of what
kube-state-metrics and RabbitMQ export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from aic_auth.app import create_app as create_auth
from aic_auth.settings import AuthSettings
from aic_common.bus import InProcessBus
from aic_files.app import create_app as create_files
from aic_files.settings import FilesSettings
from aic_gateway.app import create_app as create_gateway
from aic_gateway.settings import GatewaySettings
from aic_simulator.app import create_app as create_simulator
from aic_simulator.settings import SimulatorSettings
from aic_social.app import create_app as create_social
from aic_social.settings import SocialSettings

from .conftest import DEPLOY
from .test_alerts import promtool, run_promtool

DASHBOARD = DEPLOY / "monitoring" / "grafana-dashboard.json"
RULES = DEPLOY / "k8s" / "components" / "servicemonitor" / "prometheusrule.yaml"
# What the dashboard's variables stand for when its queries are checked.
VARIABLES = {"$__rate_interval": "5m", "$namespace": "aic"}

# Metrics of other exporters that the dashboard and the alerts use.
KUBE_STATE_METRICS = {
    "kube_deployment_spec_replicas",
    "kube_deployment_status_replicas_available",
    "kube_horizontalpodautoscaler_spec_max_replicas",
    "kube_horizontalpodautoscaler_status_current_replicas",
    "kube_pod_init_container_status_restarts_total",
    "kube_pod_status_phase",
    "kube_pod_status_ready",
}
# RabbitMQ's built-in prometheus plugin, per queue: /metrics/detailed?family=queue_coarse_metrics, or
# /metrics with prometheus.return_per_object_metrics = true.
RABBITMQ_METRICS = {"rabbitmq_detailed_queue_messages", "rabbitmq_queue_messages"}
EXTERNAL_METRICS = KUBE_STATE_METRICS | RABBITMQ_METRICS

SAMPLE_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool"}
_KEYWORDS |= {"offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (enough of PromQL for the queries here)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b\d+(?:\.\d+)?(?:ms|[smhdwy])?\b", "", text)  # numbers and durations (offset)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group()
        following = text[match.end() :].lstrip()
        if name.lower() in _KEYWORDS or following.startswith("("):
            continue  # a keyword or a function
        names.add(name)
    return names


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(panel title, expression with the variables filled in) of every query."""
    found = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((panel["title"], expr))
    return found


@pytest.fixture(scope="module")
def exported_metrics(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Every sample name the services' own registries hold, as each app builds them (embedded mode)."""
    data = tmp_path_factory.mktemp("apps")
    bus = InProcessBus("dashboard")
    apps = [
        create_auth(AuthSettings(data_dir=data), shared_bus=bus),
        create_social(SocialSettings(data_dir=data), shared_bus=bus),
        create_files(FilesSettings(data_dir=data), shared_bus=bus),
        create_simulator(SimulatorSettings(data_dir=data), shared_bus=bus),
        create_gateway(GatewaySettings(data_dir=data), shared_bus=bus),
    ]
    names: set[str] = set()
    for app in apps:
        runtime = getattr(app.state, "runtime", None)
        if runtime is not None:
            runtime.install_metrics(app)  # what its lifespan does at start
        for family in app.state.metrics_registry.collect():
            names |= {family.name + suffix for suffix in SAMPLE_SUFFIXES.get(family.type, ("",))}
        if runtime is not None:
            runtime.engine.dispose()
    return names


def test_the_dashboard_is_grafana_json_with_unique_panels(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"] and dashboard["title"]
    assert {v["name"] for v in dashboard["templating"]["list"]} == {"datasource", "namespace"}
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in panels(dashboard):
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], f"{panel['title']} has no query"
    titles = " ".join(panel["title"] for panel in panels(dashboard)).lower()
    for subject in ("requests", "5xx", "p99", "streams", "outbox", "dead-letter", "leader", "simulated"):
        assert subject in titles, subject
    assert "fallbacks" in titles and "hpa" in titles


def test_every_panel_query_parses(dashboard: dict[str, Any], tmp_path: Path) -> None:
    promtool()
    rules = [
        {"record": f"dashboard:query_{number}", "expr": expr}
        for number, (_, expr) in enumerate(queries(dashboard))
    ]
    for _, expr in queries(dashboard):
        assert "$" not in expr, f"an unknown dashboard variable in {expr}"
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8")
    checked = run_promtool("check", "rules", str(path), cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_dashboard_and_the_alerts_ask_only_for_exported_metrics(
    dashboard: dict[str, Any], exported_metrics: set[str]
) -> None:
    # The names are what the code exports, not what the test guesses: these must be among them.
    assert {"http_requests_total", "http_request_duration_seconds_bucket", "aic_stream_subscribers"} <= (
        exported_metrics
    )
    alerts = yaml.safe_load(RULES.read_text(encoding="utf-8"))["spec"]["groups"]
    expressions = [(title, expr) for title, expr in queries(dashboard)]
    expressions += [(rule["alert"], rule["expr"]) for group in alerts for rule in group["rules"]]
    known = exported_metrics | EXTERNAL_METRICS
    for where, expr in expressions:
        names = metric_names(expr)
        assert names, f"{where}: no metric found in {expr}"
        assert names <= known, f"{where}: {sorted(names - known)} exported by nothing"
    used = set().union(*(metric_names(expr) for _, expr in expressions))
    assert {n for n in exported_metrics if n.startswith("aic_") and not n.endswith("_created")} <= used, (
        "every aic_ metric is on the dashboard or in an alert"
    )


def test_metric_names_reads_promql_as_expected() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket{route!~"a|b"}'
        "[5m]))) / on (job) group_left () max(up) > bool 0 or time() - aic_sim_clock_seconds offset 5m"
    )
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "up", "aic_sim_clock_seconds"}
