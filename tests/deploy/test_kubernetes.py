"""The Kubernetes overlays, rendered by ``kubectl kustomize`` with secrets made by
deploy/generate-secrets.sh, validated strictly against the API schemas, and checked object against
object: what a Service selects, what an HPA scales, what a probe asks, what a container is given, and
which connections the NetworkPolicies let through."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest

from aic_gateway.stack import (
    AUTH,
    CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
    CONTAINER_HOST,
    CONTAINER_PORT,
    GATEWAY,
    LIVE_PATH,
    METRICS_PATH,
    READY_PATH,
    migrate_command,
    serve_command,
)

from .conftest import (
    ALL_SPECS,
    KUBERNETES_VERSION,
    NAMESPACE,
    SERVER_VARIABLES,
    STORE_IMAGES,
    STORE_SCRIPTS,
    Compose,
    Dockerfile,
    Endpoint,
    Manifests,
    Network,
    assert_broker_user,
    containers,
    generate_k8s_secrets,
    image_target,
    kustomize,
    pod_in,
    pod_labels,
    pod_spec,
    runner_environment,
    selects,
    service_clients,
    settings_fields,
    url_endpoint,
)

pytestmark = pytest.mark.unit

STATELESS = [spec.name for spec in ALL_SPECS if spec.name != "simulator"]
# What an overlay sets differently from docker-compose.yml on purpose: whose X-Forwarded-For is believed
# (the pod network there; compose's own network, and nobody at the gateway's published port).
OVERLAY_OWN_VALUES = {"dev": {"AIC_TRUSTED_PROXIES"}, "prod": {"AIC_S3_ENDPOINT_URL", "AIC_TRUSTED_PROXIES"}}
# What a service's server container adds to the runner's variables: its database pool, sized for many
# replicas (base/patches/database-pools.yaml; test_database_connections.py adds the pools up).
POOL_SIZING = frozenset({"AIC_DB_POOL_SIZE", "AIC_DB_MAX_OVERFLOW"})


def validate(documents: Iterable[dict[str, Any]], version: str = KUBERNETES_VERSION) -> None:
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)


def spec_of(service: str) -> Any:
    return next(spec for spec in ALL_SPECS if spec.name == service)


def expected_serve_command(service: str) -> list[str]:
    return [
        "python",
        *serve_command(
            spec_of(service),
            host=CONTAINER_HOST,
            port=CONTAINER_PORT,
            graceful_shutdown_seconds=CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
        ),
    ]


def secret_keys(manifests: Manifests, container: dict[str, Any]) -> set[str]:
    keys: set[str] = set()
    for source in container.get("envFrom") or []:
        if "secretRef" in source:
            keys |= set(manifests.config_data("Secret", source["secretRef"]["name"]))
    return keys


def service_containers(manifests: Manifests) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, where, container) for every container that runs a service's code."""
    found = []
    for spec in ALL_SPECS:
        deployment = manifests.server(spec.name)
        for container in containers(deployment):
            found.append((spec.name, f"Deployment/{spec.name}/{container['name']}", container))
    return found


# --------------------------------------------------------------------------------------------- schema


@pytest.mark.parametrize("version", [KUBERNETES_VERSION, "1.32.0"])
def test_every_overlay_validates_strictly_against_the_api_schemas(
    overlays: dict[str, Manifests], version: str
) -> None:
    for manifests in overlays.values():
        validate(manifests.documents, version)


def test_the_validation_would_catch_a_misspelt_field(overlays: dict[str, Manifests]) -> None:
    broken = copy.deepcopy(overlays["dev"].server(GATEWAY))
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate([broken])


def test_the_base_alone_renders_with_secrets_the_services_refuse(k8s_tree: Path) -> None:
    base = Manifests("base", kustomize(k8s_tree / "base"))
    validate(base.documents)
    auth = base.environment(base.server(AUTH)["spec"]["template"]["spec"]["containers"][0])
    assert auth["AIC_JWT_PRIVATE_KEY"].strip() == "change-me"


def test_the_servicemonitor_component_scrapes_every_service(k8s_tree: Path) -> None:
    monitored = Manifests("prod-monitored", kustomize(k8s_tree / "overlays" / "prod-monitored"))
    (monitor,) = monitored.of_kind("ServiceMonitor")
    validate(d for d in monitored.documents if not d["apiVersion"].startswith("monitoring.coreos.com/"))
    scraped = [
        s
        for s in monitored.of_kind("Service")
        if selects(monitor["spec"]["selector"], s["metadata"]["labels"])
    ]
    assert sorted(s["metadata"]["name"] for s in scraped) == sorted(spec.name for spec in ALL_SPECS)
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == METRICS_PATH
    for service in scraped:
        assert endpoint["port"] in [port["name"] for port in service["spec"]["ports"]]

    # It sends the token every service's /metrics asks for, from a Secret of its own namespace (the
    # operator reads credentials only there), under the name kustomize generated for that Secret.
    assert endpoint["authorization"]["type"] == "Bearer"
    credentials = endpoint["authorization"]["credentials"]
    secret = monitored.get("Secret", credentials["name"])
    assert monitor["metadata"]["namespace"] == secret["metadata"]["namespace"] == NAMESPACE
    token = monitored.config_data("Secret", credentials["name"])[credentials["key"]]
    assert len(token) >= 32
    for spec in ALL_SPECS:
        container = pod_spec(monitored.server(spec.name))["containers"][0]
        assert monitored.environment(container)["AIC_METRICS_TOKEN"] == token, spec.name


# --------------------------------------------------------------------------------------------- wiring


def test_every_service_selects_pods_that_declare_the_ports_it_names(overlay: Manifests) -> None:
    for service in overlay.of_kind("Service"):
        selector = {"matchLabels": service["spec"]["selector"]}
        pods = [w for w in overlay.workloads if selects(selector, pod_labels(w))]
        assert pods, f"{overlay.name}: Service {service['metadata']['name']} selects no pods"
        assert all(w["kind"] != "Job" for w in pods), f"Service {service['metadata']['name']} selects a Job"
        for workload in pods:
            declared = {
                port.get("name"): port["containerPort"]
                for container in pod_spec(workload)["containers"]
                for port in container.get("ports") or []
            }
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                assert target in declared or target in declared.values(), (
                    f"{overlay.name}: Service {service['metadata']['name']} sends to {target}, "
                    f"which {workload['metadata']['name']} does not declare"
                )


def test_stateless_services_scale_and_survive_disruptions_and_the_simulator_leads_alone(
    overlay: Manifests,
) -> None:
    deployments = {d["metadata"]["name"]: d for d in overlay.of_kind("Deployment")}
    autoscalers = {h["spec"]["scaleTargetRef"]["name"]: h for h in overlay.of_kind("HorizontalPodAutoscaler")}
    for autoscaler in autoscalers.values():
        target = autoscaler["spec"]["scaleTargetRef"]
        assert target["kind"] == "Deployment" and target["name"] in deployments
    budgets = overlay.of_kind("PodDisruptionBudget")
    for budget in budgets:
        guarded = [d for d in deployments.values() if selects(budget["spec"]["selector"], pod_labels(d))]
        assert len(guarded) == 1, f"PDB {budget['metadata']['name']} guards {len(guarded)} Deployments"

    for name in STATELESS:
        deployment = deployments[name]
        autoscaler = autoscalers[name]
        assert deployment["spec"]["replicas"] >= 2
        assert autoscaler["apiVersion"] == "autoscaling/v2"
        assert autoscaler["spec"]["minReplicas"] == deployment["spec"]["replicas"]
        assert autoscaler["spec"]["maxReplicas"] > autoscaler["spec"]["minReplicas"]
        resources = {m["resource"]["name"] for m in autoscaler["spec"]["metrics"] if m["type"] == "Resource"}
        assert resources == {"cpu", "memory"}
        assert autoscaler["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
        assert [b for b in budgets if selects(b["spec"]["selector"], pod_labels(deployment))]
        rolling = deployment["spec"]["strategy"]
        assert rolling["type"] == "RollingUpdate" and rolling["rollingUpdate"]["maxUnavailable"] == 0
        assert deployment["spec"]["revisionHistoryLimit"] >= 2  # something to roll back to
        spread = pod_spec(deployment)["topologySpreadConstraints"]
        assert {c["topologyKey"] for c in spread} == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        for constraint in spread:
            assert selects(constraint["labelSelector"], pod_labels(deployment))
            assert "app.kubernetes.io/name" in constraint["matchLabelKeys"]  # per service, not across them

    simulator = deployments["simulator"]
    assert simulator["spec"]["replicas"] == 1
    assert simulator["spec"]["strategy"] == {"type": "Recreate"}
    assert "simulator" not in autoscalers
    assert not [b for b in budgets if selects(b["spec"]["selector"], pod_labels(simulator))]


def test_probes_ask_the_paths_and_the_port_the_service_serves(overlay: Manifests) -> None:
    for spec in ALL_SPECS:
        container = pod_spec(overlay.server(spec.name))["containers"][0]
        listens_on = int(container["command"][container["command"].index("--port") + 1])
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        expected = {"startupProbe": LIVE_PATH, "livenessProbe": LIVE_PATH, "readinessProbe": READY_PATH}
        for probe, path in expected.items():
            request = container[probe]["httpGet"]
            assert request["path"] == path, (spec.name, probe)
            assert ports.get(request["port"], request["port"]) == listens_on, (spec.name, probe)
        # A store outage shows as not ready, never as a restart: liveness does not ask the stores.
        assert container["livenessProbe"]["httpGet"]["path"] != READY_PATH
    for workload in overlay.of_kind("StatefulSet"):
        for container in pod_spec(workload)["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container


def test_containers_run_the_runner_commands_from_images_the_dockerfile_builds(
    overlay: Manifests, dockerfile: Dockerfile, compose: Compose
) -> None:
    for spec in ALL_SPECS:
        deployment = overlay.server(spec.name)
        main = pod_spec(deployment)["containers"][0]
        assert main["command"] == expected_serve_command(spec.name)
        migrations = [*(pod_spec(deployment).get("initContainers") or [])]
        assert len(migrations) == (1 if spec.has_database else 0), spec.name
        for container in migrations:
            assert container["command"] == ["python", *migrate_command(spec)]
            assert container["image"] == main["image"]
    compose_images = {service["image"] for service in compose.services.values()}
    for workload in overlay.workloads:
        for container in containers(workload):
            target = image_target(container["image"])
            if target is not None:
                assert target in dockerfile.stages
                assert target == pod_labels(workload)["app.kubernetes.io/name"], container["image"]
                assert ":" in container["image"].rsplit("/", 1)[-1], "images carry a tag"
            else:
                assert container["image"].split(":")[0] in STORE_IMAGES, container["image"]
                # The same store versions as docker-compose.yml.
                assert container["image"] in compose_images


def test_each_container_gets_the_runners_variables_and_its_settings_accept_them(
    overlay: Manifests, compose: Compose, settings_environment: Any
) -> None:
    for service, where, container in service_containers(overlay):
        environment = overlay.environment(container)
        runner = set(runner_environment(spec_of(service)))
        assert runner <= set(environment) and set(environment) - runner <= POOL_SIZING, where
        for name in environment:
            assert name in settings_fields(service) | SERVER_VARIABLES, (
                f"{where}: {service} does not read {name}"
            )
        settings = settings_environment(service, environment)
        assert settings.env.value == "prod"
        # Plain configuration is what compose gives; only secrets and the overlay's own values differ.
        own = OVERLAY_OWN_VALUES[overlay.name] | POOL_SIZING
        from_config = set(environment) - secret_keys(overlay, container) - own
        compose_environment = compose.environment(service)
        assert {k: environment[k] for k in from_config} == {k: compose_environment[k] for k in from_config}

    auth = overlay.environment(pod_spec(overlay.server(AUTH))["containers"][0])
    for spec in ALL_SPECS:
        if spec.service_client:
            environment = overlay.environment(pod_spec(overlay.server(spec.name))["containers"][0])
            assert service_clients(auth)[spec.name] == environment["AIC_SERVICE_CLIENT_SECRET"]


def test_every_service_container_reads_the_metrics_token_from_the_one_shared_secret(
    overlay: Manifests,
) -> None:
    tokens = set()
    for _, where, container in service_containers(overlay):
        sources = [s["secretRef"]["name"] for s in container.get("envFrom") or [] if "secretRef" in s]
        holding = [name for name in sources if "AIC_METRICS_TOKEN" in overlay.config_data("Secret", name)]
        assert len(holding) == 1 and holding[0].startswith("aic-metrics"), where
        tokens.add(overlay.environment(container)["AIC_METRICS_TOKEN"])
    (token,) = tokens
    assert token != "change-me" and len(token) >= 32


# What deploy/generate-secrets.sh puts in a managed database's URLs (python slim images carry the bundle).
VERIFIED_DATABASE_TLS = "ssl_ca=/etc/ssl/certs/ca-certificates.crt&ssl_check_hostname=true"


def test_a_managed_database_is_reached_over_tls_with_its_certificate_checked(
    overlays: dict[str, Manifests], tmp_path: Path
) -> None:
    # docs/deploy.md: prod's services check the managed server's certificate and host name against the
    # image's CA bundle; the dev overlay's own server, inside the cluster, is reached without options.
    for name, expected in (("prod", VERIFIED_DATABASE_TLS), ("dev", "")):
        overlay = overlays[name]
        for spec in ALL_SPECS:
            if spec.has_database:
                environment = overlay.environment(pod_spec(overlay.server(spec.name))["containers"][0])
                assert urlsplit(environment["AIC_DATABASE_URL"]).query == expected, (name, spec.name)
    # An operator with a private CA (or none) says so in MYSQL_URL_OPTIONS.
    for options in ("ssl_ca=/etc/aic/db-ca.pem&ssl_check_hostname=true", ""):
        generate_k8s_secrets(tmp_path / "secrets", MYSQL_HOST="db.internal", MYSQL_URL_OPTIONS=options)
        lines = (tmp_path / "secrets" / "social.env").read_text().splitlines()
        (url,) = [line.split("=", 1)[1] for line in lines if line.startswith("AIC_DATABASE_URL=")]
        assert urlsplit(url).hostname == "db.internal" and urlsplit(url).query == options


def test_dev_credentials_agree_between_each_service_and_its_store(overlays: dict[str, Manifests]) -> None:
    dev = overlays["dev"]
    mysql = dev.environment(pod_spec(dev.get("StatefulSet", "mysql"))["containers"][0])
    rabbitmq_pod = pod_spec(dev.get("StatefulSet", "rabbitmq"))
    rabbitmq = dev.environment(rabbitmq_pod["containers"][0])
    (volume,) = [v for v in rabbitmq_pod["volumes"] if v["name"] == "definitions"]
    definitions = dev.config_data("Secret", volume["secret"]["secretName"])["definitions.json"]
    redis = dev.environment(pod_spec(dev.get("Deployment", "redis"))["containers"][0])
    minio_setup = dev.environment(pod_spec(dev.get("Job", "minio-setup"))["containers"][0])
    for spec in ALL_SPECS:
        environment = dev.environment(pod_spec(dev.server(spec.name))["containers"][0])
        if spec.has_database:
            url = urlsplit(environment["AIC_DATABASE_URL"])
            assert url.username == url.path.lstrip("/") == f"aic_{spec.name}"
            assert url.password == mysql[f"MYSQL_{spec.name.upper()}_PASSWORD"]
        # Its own broker user, in the definitions RabbitMQ imports at every start.
        assert_broker_user(
            environment["AIC_BROKER_URL"],
            spec.name,
            json.loads(definitions),
            (rabbitmq["RABBITMQ_DEFAULT_USER"], rabbitmq["RABBITMQ_DEFAULT_PASS"]),
            environment["AIC_BUS_NAMESPACE"],
        )
    files = dev.environment(pod_spec(dev.server("files"))["containers"][0])
    assert (files["AIC_S3_ACCESS_KEY"], files["AIC_S3_SECRET_KEY"], files["AIC_S3_BUCKET"]) == (
        minio_setup["S3_ACCESS_KEY"],
        minio_setup["S3_SECRET_KEY"],
        minio_setup["S3_BUCKET"],
    )
    gateway = dev.environment(pod_spec(dev.server(GATEWAY))["containers"][0])
    assert urlsplit(gateway["AIC_REDIS_URL"]).password == redis["REDIS_PASSWORD"]
    scripts = dev.config_data(
        "ConfigMap",
        next(
            c["metadata"]["name"]
            for c in dev.of_kind("ConfigMap")
            if c["metadata"]["name"].startswith("aic-store-scripts")
        ),
    )
    for name in ("create-databases.sh", "setup-minio.sh"):
        assert scripts[name] == (STORE_SCRIPTS / name).read_text(encoding="utf-8")


def test_every_service_with_a_database_migrates_before_it_serves(
    overlay: Manifests, settings_environment: Any
) -> None:
    """Each pod's first init container is the service's migration step, with the server's image and
    variables; no Job migrates (a Job's pod template cannot change: each upgrade would have to delete
    it first, docs/deploy.md "Rolling update and rollback")."""
    assert not [
        job
        for job in overlay.of_kind("Job")
        if pod_labels(job).get("app.kubernetes.io/name") in {spec.name for spec in ALL_SPECS}
    ], "a service's Job would block the next upgrade"
    for spec in ALL_SPECS:
        pod = pod_spec(overlay.server(spec.name))
        server = pod["containers"][0]
        assert not settings_environment(spec.name, overlay.environment(server)).migrate_on_start
        if not spec.has_database:
            assert not pod.get("initContainers"), spec.name
            continue
        migration = pod["initContainers"][0]
        assert migration["command"] == ["python", *migrate_command(spec)], spec.name
        assert migration["image"] == server["image"], spec.name
        assert migration["envFrom"] == server["envFrom"], spec.name
        assert overlay.environment(migration).items() <= overlay.environment(server).items(), spec.name


# --------------------------------------------------------------------------------------------- hardening


def test_every_pod_meets_the_restricted_pod_security_standard(overlay: Manifests) -> None:
    namespace = overlay.get("Namespace", NAMESPACE)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload in overlay.workloads:
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in containers(workload):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"] == {"drop": ["ALL"]}, name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name
            if image_target(container["image"]) is not None:
                # Our images write nowhere but /tmp, an emptyDir.
                assert security["readOnlyRootFilesystem"] is True, name
                mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
                volumes = {v["name"]: v for v in spec["volumes"]}
                assert "emptyDir" in volumes[mounts["/tmp"]], name
                assert spec["securityContext"]["runAsUser"] == 10001, name


def test_a_stopping_pod_finishes_its_requests_before_it_is_killed(overlay: Manifests) -> None:
    for spec in ALL_SPECS:
        pod = pod_spec(overlay.server(spec.name))
        container = pod["containers"][0]
        graceful = int(container["command"][container["command"].index("--timeout-graceful-shutdown") + 1])
        assert graceful == CONTAINER_GRACEFUL_SHUTDOWN_SECONDS
        pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        assert int(pre_stop[1]) + graceful < pod["terminationGracePeriodSeconds"], spec.name


def test_dev_stores_keep_their_data_on_persistent_volumes(overlays: dict[str, Manifests]) -> None:
    dev = overlays["dev"]
    data_dirs = {"mysql": "/var/lib/mysql", "rabbitmq": "/var/lib/rabbitmq", "minio": "/data"}
    for name, path in data_dirs.items():
        store = dev.get("StatefulSet", name)
        claims = {claim["metadata"]["name"] for claim in store["spec"]["volumeClaimTemplates"]}
        mounts = {m["mountPath"]: m["name"] for m in pod_spec(store)["containers"][0]["volumeMounts"]}
        assert mounts[path] in claims, name
        assert dev.get("Service", store["spec"]["serviceName"])
    assert not overlays["prod"].of_kind("StatefulSet"), "prod uses managed stores"


# --------------------------------------------------------------------------------------------- edge


def test_the_ingress_terminates_tls_and_routes_only_to_the_gateway(overlay: Manifests) -> None:
    (ingress,) = overlay.of_kind("Ingress")
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts and sorted(hosts) == sorted(h for tls in ingress["spec"]["tls"] for h in tls["hosts"])
    assert all(tls["secretName"] for tls in ingress["spec"]["tls"])
    gateway = overlay.get("Service", GATEWAY)
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == GATEWAY
            assert backend["port"]["name"] in [port["name"] for port in gateway["spec"]["ports"]]
    if overlay.name == "prod":
        assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    else:
        tls_secret = overlay.get("Secret", ingress["spec"]["tls"][0]["secretName"])
        assert tls_secret["type"] == "kubernetes.io/tls"


# --------------------------------------------------------------------------------------------- network


def needed_connections(overlay: Manifests, network: Network) -> set[tuple[str, str, int]]:
    """(source workload, host, port) for every store or service a workload's settings point at."""
    needs: set[tuple[str, str, int]] = set()
    for workload in overlay.workloads:
        source = network.pods_of(workload["metadata"]["name"]).name
        for container in containers(workload):
            environment = overlay.environment(container)
            if "MYSQL_HOST" in environment:  # the backup's dump: host and port apart, as mysqldump takes them
                needs.add((source, environment["MYSQL_HOST"], int(environment.get("MYSQL_PORT") or 3306)))
            for value in environment.values():
                endpoint = url_endpoint(value)
                if endpoint is None:
                    continue
                if endpoint[0] == workload["metadata"]["name"]:
                    continue  # itself
                needs.add((source, *endpoint))
    return needs


def test_network_policies_let_through_exactly_the_connections_the_settings_need(overlay: Manifests) -> None:
    network = Network(overlay)
    pods = network.pods()
    needs = needed_connections(overlay, network)
    assert len(needs) >= 15
    by_name = {pod.name: pod for pod in pods}
    for source, host, port in sorted(needs):
        for destination, target_port in network.backends(host, port):
            assert network.allows(by_name[source], destination, target_port), (
                f"{overlay.name}: {source} needs {host}:{port} but may not reach {destination.name}"
            )

    # Every other connection between the pods of the namespace is refused.
    services = [s["metadata"]["name"] for s in overlay.of_kind("Service")]
    refused = 0
    for source in pods:
        for host in services:
            for service_port in overlay.get("Service", host)["spec"]["ports"]:
                if (source.name, host, service_port["port"]) in needs:
                    continue
                for destination, target_port in network.backends(host, service_port["port"]):
                    assert not network.allows(source, destination, target_port), (
                        f"{overlay.name}: {source.name} may reach {host}:{service_port['port']} unneeded"
                    )
                    refused += 1
    assert refused > 20  # the check has substance: prod has no store pods, so fewer

    dns = pod_in("kube-system", "coredns", **{"k8s-app": "kube-dns"})
    for pod in pods:
        assert network.allows(pod, dns, 53, "UDP"), f"{pod.name} cannot resolve names"


def test_from_outside_only_the_gateway_is_reachable_and_only_through_the_ingress_controller(
    overlay: Manifests,
) -> None:
    network = Network(overlay)
    controller = pod_in("ingress-nginx", "controller", **{"app.kubernetes.io/name": "ingress-nginx"})
    stranger = pod_in("default", "stranger", app="anything")
    prometheus = pod_in("monitoring", "prometheus", **{"app.kubernetes.io/name": "prometheus"})
    internet = Endpoint("internet", address="198.51.100.23")
    for service in overlay.of_kind("Service"):
        host = service["metadata"]["name"]
        for service_port in service["spec"]["ports"]:
            for destination, port in network.backends(host, service_port["port"]):
                is_gateway = host == GATEWAY
                assert network.allows(controller, destination, port) == is_gateway, host
                assert not network.allows(stranger, destination, port), host
                assert not network.allows(internet, destination, port), host
                is_server = destination.labels.get("app.kubernetes.io/component") == "server"
                assert network.allows(prometheus, destination, port) == is_server, host


def test_only_social_reaches_public_web_pages_for_link_previews(overlay: Manifests) -> None:
    network = Network(overlay)
    social = network.pods_of("social")
    public = Endpoint("a-web-site", address="198.51.100.23")
    public_v6 = Endpoint("a-web-site-v6", address="2001:db8::23")
    for port in (80, 443):
        assert network.allows(social, public, port) and network.allows(social, public_v6, port)
        for private in ("10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "127.0.0.1", "fd00::1"):
            assert not network.allows(social, Endpoint("inside", address=private), port), private
        assert not network.allows(network.pods_of(GATEWAY), public, port)
    assert not network.allows(social, public, 22)


def test_the_stores_reach_out_to_nothing(overlays: dict[str, Manifests]) -> None:
    dev = overlays["dev"]
    network = Network(dev)
    internet = Endpoint("internet", address="198.51.100.23")
    for pod in network.pods():
        if pod.labels.get("app.kubernetes.io/component") == "datastore":
            assert not network.allows(pod, internet, 443), pod.name
            assert not network.allows(pod, network.pods_of(AUTH), CONTAINER_PORT), pod.name
    # Services do reach managed stores outside the cluster in prod, on their ports only.
    prod = Network(overlays["prod"])
    outside_store = Endpoint("managed-mysql", address="10.20.30.40")
    assert prod.allows(prod.pods_of("social"), outside_store, 3306)
    assert not prod.allows(prod.pods_of(GATEWAY), outside_store, 3306)
    assert not prod.allows(prod.pods_of("social"), outside_store, 22)
