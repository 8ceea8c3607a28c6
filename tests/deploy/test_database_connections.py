"""Database connections at the most every deployment can open, against what each server allows.

Every pod that connects to MySQL counts at its most: a service container with the pool its own
settings give its engine (``ServiceSettings.db_pool_limits``, built from the container's environment),
a migration with its one connection (``MIGRATION_POOL``), a tool such as the backup's mysqldump with
its one session; a pod's init containers run one after another before its containers, so a pod holds
the larger of the two. Each workload counts with the most pods it can have: a Deployment at its HPA's
``maxReplicas`` (without one: ``replicas``) plus a rolling update's surge, a CronJob one run at a time.
The sum per server, plus room for people and tools, must fit the server's ``max_connections``: the
dev overlay's MySQL sets it on its command line, compose's likewise, prod's managed server must allow
the number docs/deploy.md states."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from aic_common.migrations import MIGRATION_POOL
from aic_common.settings import ServiceSettings
from aic_gateway.stack import migrate_command

from .conftest import ALL_SPECS, REPO, Compose, Manifests, pod_labels, pod_spec

pytestmark = pytest.mark.unit

# What prod's managed MySQL must allow (its max_connections parameter); docs/deploy.md says the same.
PROD_MYSQL_MAX_CONNECTIONS = 700
# Connections left over for people and tools beside the services: an operator's mysql client, a
# monitoring exporter, the dev server's own mysqladmin probes, a restore.
ADMIN_HEADROOM = 20
# A client that is not a service (mysqldump): one session.
TOOL_CONNECTIONS = 1
DOCS = REPO / "docs" / "deploy.md"

SPECS = {spec.name: spec for spec in ALL_SPECS}
BuildSettings = Callable[[str, dict[str, str]], ServiceSettings]


def max_connections_argument(arguments: list[str]) -> int | None:
    """``--max-connections=N`` (or ``--max_connections=N``) on a mysqld command line."""
    for argument in arguments:
        match = re.fullmatch(r"--max[-_]connections=(\d+)", argument)
        if match:
            return int(match[1])
    return None


def container_connections(
    service: str, container: dict[str, Any], environment: dict[str, str], build: BuildSettings
) -> tuple[str, int] | None:
    """(database host, the most connections) of one container; None when it connects to no database."""
    if "AIC_DATABASE_URL" in environment:
        host = urlsplit(environment["AIC_DATABASE_URL"]).hostname
        assert host, environment["AIC_DATABASE_URL"]
        spec = SPECS[service]
        if container.get("command") == ["python", *migrate_command(spec)]:
            return host, MIGRATION_POOL.most
        return host, build(service, environment).db_pool_limits().most
    if "MYSQL_HOST" in environment:
        return environment["MYSQL_HOST"], TOOL_CONNECTIONS
    return None


def pod_connections(overlay: Manifests, workload: dict[str, Any], build: BuildSettings) -> Counter[str]:
    service = pod_labels(workload).get("app.kubernetes.io/name", "")
    spec = pod_spec(workload)

    def of(containers: list[dict[str, Any]]) -> list[tuple[str, int]]:
        found = []
        for container in containers:
            counted = container_connections(service, container, overlay.environment(container), build)
            if counted is not None:
                found.append(counted)
        return found

    pod: Counter[str] = Counter()
    for host, count in of(spec["containers"]):
        pod[host] += count
    for host, count in of(spec.get("initContainers") or []):  # one at a time, before the containers
        pod[host] = max(pod[host], count)
    return pod


def most_pods(overlay: Manifests, workload: dict[str, Any]) -> int:
    kind, spec = workload["kind"], workload["spec"]
    if kind == "Deployment":
        name = workload["metadata"]["name"]
        scalers = [
            hpa
            for hpa in overlay.of_kind("HorizontalPodAutoscaler")
            if hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
            and hpa["spec"]["scaleTargetRef"]["name"] == name
        ]
        replicas = max([spec.get("replicas", 1), *(hpa["spec"]["maxReplicas"] for hpa in scalers)])
        strategy = spec.get("strategy") or {"type": "RollingUpdate"}
        if strategy["type"] == "Recreate":
            return replicas  # the old pods are gone before the new ones start
        surge = (strategy.get("rollingUpdate") or {}).get("maxSurge", "25%")
        if isinstance(surge, str):
            surge = math.ceil(replicas * int(surge.rstrip("%")) / 100)
        return replicas + surge
    if kind == "StatefulSet":
        return spec.get("replicas", 1)
    if kind == "Job":
        return spec.get("parallelism", 1)
    if kind == "CronJob":
        # Forbid: a run never starts while the last one still runs (Allow or Replace could overlap).
        assert spec.get("concurrencyPolicy") == "Forbid", workload["metadata"]["name"]
        return spec["jobTemplate"]["spec"].get("parallelism", 1)
    raise AssertionError(f"{kind} is not a workload")


def connections_at_most(overlay: Manifests, build: BuildSettings) -> tuple[Counter[str], dict[str, int]]:
    """The most connections to each database host, and what each workload contributes."""
    total: Counter[str] = Counter()
    contributions: dict[str, int] = {}
    for workload in overlay.workloads:
        if (workload["kind"], workload["metadata"]["name"]) == ("StatefulSet", "mysql"):
            continue  # the server itself
        pods = most_pods(overlay, workload)
        for host, count in pod_connections(overlay, workload, build).items():
            total[host] += pods * count
            contributions[f"{workload['kind']}/{workload['metadata']['name']}"] = pods * count
    return total, contributions


def server_max_connections(overlay: Manifests, host: str) -> int:
    """What the server behind ``host`` allows: the rendered MySQL's command line, or prod's managed one."""
    service = overlay.find("Service", host)
    if service is None:
        assert overlay.name == "prod", f"{overlay.name}: {host} is no Service of the overlay"
        return PROD_MYSQL_MAX_CONNECTIONS
    server = overlay.get("StatefulSet", host)
    (mysqld,) = [c for c in pod_spec(server)["containers"] if c["name"] == "mysql"]
    allowed = max_connections_argument(mysqld.get("args") or [])
    assert allowed is not None, f"{overlay.name}: the MySQL StatefulSet sets no --max-connections"
    return allowed


def test_the_most_connections_fit_each_database_server(overlay: Manifests, settings_environment: Any) -> None:
    total, contributions = connections_at_most(overlay, settings_environment)
    assert total, f"{overlay.name}: nothing connects to a database"
    for host, connections in total.items():
        allowed = server_max_connections(overlay, host)
        assert connections + ADMIN_HEADROOM <= allowed, (
            f"{overlay.name}: up to {connections} connections to {host} ({contributions}) and "
            f"{ADMIN_HEADROOM} for people and tools, but max_connections is {allowed}"
        )


def test_every_service_with_a_database_is_counted_with_its_own_pool(
    overlay: Manifests, settings_environment: Any
) -> None:
    # The sum above is only as good as what it counts: every service's server pods, at the pool their
    # settings give them.
    _, contributions = connections_at_most(overlay, settings_environment)
    for spec in ALL_SPECS:
        assert (f"Deployment/{spec.name}" in contributions) == spec.has_database, spec.name
    social = overlay.environment(pod_spec(overlay.server("social"))["containers"][0])
    pool = settings_environment("social", social).db_pool_limits()
    assert pool.size < ServiceSettings.model_fields["db_pool_size"].default  # sized down for replicas


def test_docs_state_the_max_connections_each_server_is_given(
    overlays: dict[str, Manifests], settings_environment: Any
) -> None:
    scaling = DOCS.read_text(encoding="utf-8").split("\n## Scaling\n", 1)[1].split("\n## ", 1)[0]
    text = " ".join(scaling.split())
    prod = re.search(r"prod's managed MySQL must allow `max_connections` of at least ([\d,]+)", text)
    assert prod and int(prod[1].replace(",", "")) == PROD_MYSQL_MAX_CONNECTIONS, "docs/deploy.md, Scaling"
    dev = re.search(r"the dev overlay's MySQL runs with `--max-connections=(\d+)`", text)
    assert dev and int(dev[1]) == server_max_connections(overlays["dev"], "mysql"), "docs/deploy.md, Scaling"
    sums = re.search(r"up to ([\d,]+) connections in dev and ([\d,]+) in prod", text)
    assert sums, "docs/deploy.md, Scaling: the sums"
    for name, stated in zip(("dev", "prod"), sums.groups(), strict=True):
        total, _ = connections_at_most(overlays[name], settings_environment)
        assert int(stated.replace(",", "")) == sum(total.values()), f"docs/deploy.md, Scaling: {name}"


def test_compose_fits_its_mysql_with_one_replica_each(compose: Compose, settings_environment: Any) -> None:
    """Compose runs one container of each service; a new version's migrations run while the old
    containers still serve, and an on-demand backup may run beside them."""
    connections = 0
    for name, service in compose.services.items():
        environment = compose.environment(name)
        label = name.removeprefix("migrate-")
        if label in SPECS and "AIC_DATABASE_URL" in environment:
            counted = container_connections(label, service, environment, settings_environment)
        elif "MYSQL_HOST" in environment:
            counted = (environment["MYSQL_HOST"], TOOL_CONNECTIONS)
        else:
            continue
        assert counted is not None and counted[0] == "mysql", name
        connections += counted[1] * int((service.get("deploy") or {}).get("replicas", 1))
    allowed = max_connections_argument(compose.services["mysql"].get("command") or [])
    assert allowed is not None, "docker-compose.yml: mysql sets no --max-connections"
    assert connections + ADMIN_HEADROOM <= allowed, f"up to {connections}, max_connections {allowed}"
