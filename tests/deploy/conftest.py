"""What the deployment tests share: docker-compose.yml read the way compose reads it, the Kubernetes
overlays rendered the way ``kubectl apply -k`` renders them, the Dockerfile's stages, and a model of
how NetworkPolicies decide whether one pod may talk to another.

No container engine is needed: everything here is read, rendered and compared."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import sqlalchemy as sa
import yaml

from aic_auth.settings import AuthSettings
from aic_common.bus.users import ROLES, broker_user, password_matches, permissions
from aic_common.settings import ServiceSettings
from aic_common.testing.fixtures import unavailable
from aic_files.settings import FilesSettings
from aic_gateway.settings import GatewaySettings
from aic_gateway.stack import (
    CONTAINER_PORT,
    GATEWAY_SPEC,
    SERVICES,
    ServiceSpec,
    StackConfig,
    StackSecrets,
    service_environment,
)
from aic_simulator.settings import SimulatorSettings
from aic_social.settings import SocialSettings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DEPLOY = REPO / "deploy"
GENERATE_SECRETS = DEPLOY / "generate-secrets.sh"
STORE_SCRIPTS = DEPLOY / "k8s" / "components" / "stores"
# The oldest Kubernetes the manifests are written for (kubernetes-validate bundles its schemas).
KUBERNETES_VERSION = "1.30.0"
NAMESPACE = "aic"

ALL_SPECS: list[ServiceSpec] = [*SERVICES, GATEWAY_SPEC]
SETTINGS_CLASSES: dict[str, type[ServiceSettings]] = {
    "auth": AuthSettings,
    "social": SocialSettings,
    "files": FilesSettings,
    "simulator": SimulatorSettings,
    "gateway": GatewaySettings,
}
# Variables a service container gets that are not its settings: none, the server's options are all
# in aic_common.server.
SERVER_VARIABLES: frozenset[str] = frozenset()
# Images of the data stores and their tools (everything else is built by the Dockerfile); the AWS CLI
# uploads the database dumps.
STORE_IMAGES = frozenset({"mysql", "rabbitmq", "redis", "minio/minio", "minio/mc", "amazon/aws-cli"})
DEFAULT_PORTS = {"http": 80, "https": 443, "amqp": 5672, "amqps": 5671, "redis": 6379, "rediss": 6379}

# Managed endpoints the prod overlay's secrets are generated for in these tests.
PROD_ENDPOINTS = {
    "MYSQL_HOST": "mysql.example.internal",
    "RABBITMQ_URL": "amqps://aic:prodbrokerpassword123@mq.example.internal:5671/",
    "REDIS_URL": "rediss://:prodredispassword123@redis.example.internal:6380/0",
    "S3_ACCESS_KEY": "AKIAEXAMPLEACCESSKEY",
    "S3_SECRET_KEY": "exampleSecretKeyOfTheManagedBucket0123",
}


# --------------------------------------------------------------------------------------------- .env


_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def parse_dotenv(text: str) -> dict[str, str]:
    """KEY=value lines as compose reads them: comments, quotes, and escapes inside double quotes."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, separator, value = line.partition("=")
        if not separator or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise ValueError(f"line {number} is not KEY=value: {raw!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = _ESCAPE.sub(lambda m: _ESCAPES.get(m[1], "\\" + m[1]), value[1:-1])
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        values[key.strip()] = value
    return values


def generated_compose_env() -> dict[str, str]:
    """A .env as an operator makes it: ``deploy/generate-secrets.sh compose``."""
    result = subprocess.run(
        ["sh", str(GENERATE_SECRETS), "compose"], capture_output=True, text=True, check=True, timeout=60
    )
    return parse_dotenv(result.stdout)


# --------------------------------------------------------------------------------------------- compose

_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?])(?P<argument>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: str, variables: Mapping[str, str], missing: list[str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error} and $$."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        operator = match["operator"]
        value = variables.get(name)
        usable = bool(value) if operator and operator.startswith(":") else value is not None
        if operator is None:
            return value or ""
        if operator.endswith("-"):
            return value if usable and value is not None else match["argument"]
        if not usable:
            missing.append(name)
            return ""
        return value or ""

    return _VARIABLE.sub(replace, value)


def _interpolate_tree(node: Any, variables: Mapping[str, str], missing: list[str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables, missing)
    if isinstance(node, list):
        return [_interpolate_tree(item, variables, missing) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_tree(value, variables, missing) for key, value in node.items()}
    return node


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


@dataclass
class Compose:
    """docker-compose.yml after YAML anchors, merges and interpolation."""

    document: dict[str, Any]
    missing: list[str]

    @classmethod
    def load(cls, variables: Mapping[str, str]) -> Compose:
        raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
        missing: list[str] = []
        return cls(_interpolate_tree(raw, variables, missing), missing)

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return self.document["services"]

    def environment(self, name: str) -> dict[str, str]:
        environment = self.services[name].get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        return {key: _scalar(value) for key, value in environment.items()}

    def depends_on(self, name: str) -> dict[str, str]:
        """Each dependency of a service and the condition it waits for."""
        dependencies = self.services[name].get("depends_on") or {}
        if isinstance(dependencies, list):
            return dict.fromkeys(dependencies, "service_started")
        return {key: value.get("condition", "service_started") for key, value in dependencies.items()}


# --------------------------------------------------------------------------------------------- Dockerfile


@dataclass
class Stage:
    name: str
    base: str  # as written, ${ARG}s not expanded
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [argument for instruction, argument in self.instructions if instruction == keyword]


@dataclass
class Dockerfile:
    arguments: dict[str, str]  # ARGs before the first FROM, with their defaults
    stages: dict[str, Stage]

    @classmethod
    def parse(cls, text: str) -> Dockerfile:
        logical: list[str] = []
        pending = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not pending and (not line or line.startswith("#")):
                continue
            if line.startswith("#"):  # a comment inside a continued instruction
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            logical.append(pending + line)
            pending = ""
        arguments: dict[str, str] = {}
        stages: dict[str, Stage] = {}
        current: Stage | None = None
        for line in logical:
            keyword, _, argument = line.partition(" ")
            keyword, argument = keyword.upper(), argument.strip()
            if keyword == "FROM":
                parts = argument.split()
                name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else f"#{len(stages)}"
                current = stages[name] = Stage(name, parts[0])
            elif current is None:
                if keyword == "ARG":
                    name, _, default = argument.partition("=")
                    arguments[name] = default
            else:
                current.instructions.append((keyword, argument))
        return cls(arguments, stages)

    def base_image(self, stage: str) -> str:
        """The image a stage finally rests on, following stages built on stages."""
        base = self.stages[stage].base
        while base in self.stages:
            base = self.stages[base].base
        return re.sub(r"\$\{(\w+)\}", lambda m: self.arguments.get(m[1], m[0]), base)

    def lineage(self, stage: str) -> list[Stage]:
        """The stage and every stage it is built on, nearest first."""
        chain = [self.stages[stage]]
        while chain[-1].base in self.stages:
            chain.append(self.stages[chain[-1].base])
        return chain

    def effective(self, stage: str, keyword: str) -> str | None:
        """The last ``keyword`` instruction (CMD, USER, HEALTHCHECK) in force in a stage."""
        for ancestor in self.lineage(stage):
            found = ancestor.all(keyword)
            if found:
                return found[-1]
        return None


@pytest.fixture(scope="session")
def dockerfile() -> Dockerfile:
    return Dockerfile.parse(DOCKERFILE.read_text(encoding="utf-8"))


def image_target(image: str) -> str | None:
    """``[registry/]aic/<target>[:tag]`` -> target; None for an image the Dockerfile does not build."""
    name = image.rsplit("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    parts = name.split("/")
    if len(parts) >= 2 and parts[-2] == "aic":
        return parts[-1]
    return None


def store_image_name(image: str) -> str:
    return image.split(":", 1)[0]


# --------------------------------------------------------------------------------------------- Kubernetes


def kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        unavailable("kubectl", "install kubectl (its built-in kustomize renders the overlays)")
    assert path is not None
    return path


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def generate_k8s_secrets(directory: Path, **endpoints: str) -> None:
    env = {**os.environ, **endpoints}
    subprocess.run(
        ["sh", str(GENERATE_SECRETS), "k8s", str(directory)],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )


@dataclass
class Manifests:
    """The objects one overlay renders to."""

    name: str
    documents: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [document for document in self.documents if document["kind"] == kind]

    def find(self, kind: str, name: str) -> dict[str, Any] | None:
        for document in self.of_kind(kind):
            if document["metadata"]["name"] == name:
                return document
        return None

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = self.find(kind, name)
        assert found is not None, f"{self.name}: no {kind} {name}"
        return found

    @property
    def workloads(self) -> list[dict[str, Any]]:
        return [d for d in self.documents if d["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob")]

    def server(self, service: str) -> dict[str, Any]:
        return self.get("Deployment", service)

    def config_data(self, kind: str, name: str) -> dict[str, str]:
        document = self.get(kind, name)
        if kind == "Secret":
            decoded = {k: base64.b64decode(v).decode() for k, v in (document.get("data") or {}).items()}
            return {**decoded, **(document.get("stringData") or {})}
        return dict(document.get("data") or {})

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        """Every variable a container gets, resolved from the rendered ConfigMaps and Secrets."""
        resolved: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                if key in source:
                    resolved.update(self.config_data(kind, source[key]["name"]))
        for variable in container.get("env") or []:
            if "value" in variable:
                resolved[variable["name"]] = str(variable["value"])
                continue
            reference = variable["valueFrom"]
            for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                if key in reference:
                    data = self.config_data(kind, reference[key]["name"])
                    assert reference[key]["key"] in data, f"{self.name}: {kind} lacks {reference[key]}"
                    resolved[variable["name"]] = data[reference[key]["key"]]
        return resolved


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    """The pods' template of a Deployment, StatefulSet, Job or CronJob (its Jobs' template)."""
    if workload["kind"] == "CronJob":
        return workload["spec"]["jobTemplate"]["spec"]["template"]
    return workload["spec"]["template"]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return pod_template(workload)["spec"]


def pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    return pod_template(workload)["metadata"].get("labels") or {}


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*(spec.get("initContainers") or []), *spec["containers"]]


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector ({} selects everything)."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def url_endpoint(value: str) -> tuple[str, int] | None:
    """(host, port) of a URL-valued setting; None when the value is not a URL."""
    if "://" not in value:
        return None
    parts = urlsplit(value)
    if not parts.hostname:
        return None
    scheme = parts.scheme.split("+", 1)[0]
    port = parts.port or DEFAULT_PORTS.get(scheme) or {"mysql": 3306}.get(scheme)
    assert port, f"no port for {value!r}"
    return parts.hostname, port


def assert_broker_user(
    broker_url: str,
    role: str,
    definitions: Mapping[str, Any],
    admin: tuple[str, str],
    namespace: str = NAMESPACE,
) -> None:
    """The broker URL signs ``role`` in as its own user, whose password hash and permissions are in the
    definitions RabbitMQ imports, beside the administrator's (``admin``: name, password)."""
    url = urlsplit(broker_url)
    assert url.username == broker_user(role, namespace), broker_url
    users = {user["name"]: user for user in definitions["users"]}
    assert password_matches(unquote(url.password or ""), users[url.username]["password_hash"]), role
    granted = {entry["user"]: entry for entry in definitions["permissions"]}[url.username]
    assert {k: granted[k] for k in ("configure", "write", "read")} == vars(permissions(role, namespace))
    assert users[url.username]["tags"] == []  # no management API for a service
    assert password_matches(admin[1], users[admin[0]]["password_hash"])
    assert users[admin[0]]["tags"] == ["administrator"]


# --------------------------------------------------------------------------------------------- network


@dataclass(frozen=True)
class Endpoint:
    """A pod (its namespace's and its own labels, its named ports) or an address outside the cluster."""

    name: str
    namespace_labels: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)
    address: str | None = None  # set for an address outside the cluster

    @property
    def namespace(self) -> str | None:
        return self.namespace_labels.get("kubernetes.io/metadata.name")


def outside(name: str, address: str = "203.0.113.10") -> Endpoint:
    return Endpoint(name, address=address)


def pod_in(namespace: str, name: str, **labels: str) -> Endpoint:
    return Endpoint(name, {"kubernetes.io/metadata.name": namespace}, labels)


class Network:
    """Whether NetworkPolicies let a connection through: the egress policies of the source's namespace
    and the ingress policies of the destination's must both allow it (none selecting a pod: allowed)."""

    def __init__(self, manifests: Manifests) -> None:
        self.manifests = manifests
        self.policies = manifests.of_kind("NetworkPolicy")
        namespace = manifests.get("Namespace", NAMESPACE)
        self.namespace_labels = {
            "kubernetes.io/metadata.name": NAMESPACE,
            **(namespace["metadata"].get("labels") or {}),
        }

    def pods(self) -> list[Endpoint]:
        result = []
        for workload in self.manifests.workloads:
            ports = {
                port["name"]: port["containerPort"]
                for container in containers(workload)
                for port in container.get("ports") or []
                if "name" in port
            }
            # A workload without a namespace lands in the operator's current one, not this one.
            namespace = workload["metadata"].get("namespace", "<current context>")
            result.append(
                Endpoint(
                    f"{workload['kind']}/{workload['metadata']['name']}",
                    self.namespace_labels
                    if namespace == NAMESPACE
                    else {"kubernetes.io/metadata.name": namespace},
                    pod_labels(workload),
                    ports,
                )
            )
        return result

    def pods_of(self, workload_name: str) -> Endpoint:
        for pod in self.pods():
            if pod.name.split("/", 1)[1] == workload_name:
                return pod
        raise AssertionError(f"no workload {workload_name}")

    def backends(self, host: str, port: int) -> list[tuple[Endpoint, int]]:
        """Where a connection to host:port lands: the pods behind a Service of that name and the port
        they listen on, or the address outside the cluster."""
        service = self.manifests.find("Service", host)
        if service is None:
            return [(outside(host), port)]
        # A short name resolves in the asking pod's namespace, which is this one.
        assert service["metadata"].get("namespace") == NAMESPACE, f"Service {host} is not in {NAMESPACE}"
        result = []
        for service_port in service["spec"]["ports"]:
            if service_port["port"] != port:
                continue
            for pod in self.pods():
                if not service["spec"].get("selector") or not selects(
                    {"matchLabels": service["spec"]["selector"]}, pod.labels
                ):
                    continue
                target = service_port.get("targetPort", port)
                result.append((pod, pod.ports[target] if isinstance(target, str) else target))
        assert result, f"{self.manifests.name}: Service {host} has no pod listening behind port {port}"
        return result

    def allows(self, source: Endpoint, destination: Endpoint, port: int, protocol: str = "TCP") -> bool:
        return self._allows(source, destination, port, protocol, "Egress") and self._allows(
            destination, source, port, protocol, "Ingress", destination
        )

    def _allows(
        self,
        subject: Endpoint,
        peer: Endpoint,
        port: int,
        protocol: str,
        direction: str,
        destination: Endpoint | None = None,
    ) -> bool:
        if subject.namespace != NAMESPACE:
            return True  # only this namespace's policies are modelled
        destination = destination or peer
        applicable = [
            policy
            for policy in self.policies
            if policy["metadata"].get("namespace") == subject.namespace
            and direction in policy["spec"].get("policyTypes", ["Ingress"])
            and selects(policy["spec"]["podSelector"], subject.labels)
        ]
        if not applicable:
            return True
        rules_key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        for policy in applicable:
            for rule in policy["spec"].get(rules_key) or []:
                peers = rule.get(peers_key)
                if peers and not any(self._peer_matches(entry, peer) for entry in peers):
                    continue
                if self._port_matches(rule.get("ports"), destination, port, protocol):
                    return True
        return False

    def _peer_matches(self, entry: Mapping[str, Any], peer: Endpoint) -> bool:
        if "ipBlock" in entry:
            if peer.address is None:
                return False  # pods are matched by labels here, not by their changing addresses
            address = ipaddress.ip_address(peer.address)
            block = entry["ipBlock"]
            return address in ipaddress.ip_network(block["cidr"]) and not any(
                address in ipaddress.ip_network(excluded) for excluded in block.get("except") or []
            )
        if peer.address is not None:
            return False
        if "namespaceSelector" in entry:
            namespace_ok = selects(entry["namespaceSelector"], peer.namespace_labels)
        else:
            namespace_ok = peer.namespace == NAMESPACE
        return namespace_ok and selects(entry.get("podSelector"), peer.labels)

    @staticmethod
    def _port_matches(
        ports: list[dict[str, Any]] | None, destination: Endpoint, port: int, protocol: str
    ) -> bool:
        if not ports:
            return True
        for entry in ports:
            if entry.get("protocol", "TCP") != protocol:
                continue
            value = entry.get("port")
            if value is None or value == port:
                return True
            if isinstance(value, str) and destination.ports.get(value) == port:
                return True
        return False


# --------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def compose_env() -> dict[str, str]:
    return generated_compose_env()


@pytest.fixture(scope="session")
def compose(compose_env: dict[str, str]) -> Compose:
    loaded = Compose.load(compose_env)
    assert not loaded.missing, f"the generated .env lacks {sorted(set(loaded.missing))}"
    return loaded


@pytest.fixture(scope="session")
def k8s_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of deploy/ with each overlay's secrets generated as an operator would (a developer's own
    secrets in the checkout are left out), and an overlay adding the ServiceMonitor (and the alerts) to
    prod, the namespace component last as in the overlays."""
    root = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, root, ignore=shutil.ignore_patterns("secrets"))
    shutil.copytree(DEPLOY / "k8s" / "base" / "secrets", root / "k8s" / "base" / "secrets")
    overlays = root / "k8s" / "overlays"
    generate_k8s_secrets(overlays / "dev" / "secrets")
    generate_k8s_secrets(overlays / "prod" / "secrets", **PROD_ENDPOINTS)
    monitored = overlays / "prod-monitored"
    monitored.mkdir()
    (monitored / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        "resources: [../prod]\ncomponents: [../../components/servicemonitor, ../../components/namespace]\n",
        encoding="utf-8",
    )
    return root / "k8s"


@pytest.fixture(scope="session")
def overlays(k8s_tree: Path) -> dict[str, Manifests]:
    return {name: Manifests(name, kustomize(k8s_tree / "overlays" / name)) for name in ("dev", "prod")}


@pytest.fixture(params=["dev", "prod"])
def overlay(request: pytest.FixtureRequest, overlays: dict[str, Manifests]) -> Manifests:
    return overlays[request.param]


@pytest.fixture
def prefix(mysql_server_url: str) -> Iterator[str]:
    """A name prefix of this test alone on the test server: the databases and users made under it (each
    service's, and the backup user) are dropped afterwards."""
    value = f"t{uuid.uuid4().hex[:8]}"
    yield value
    engine = sa.create_engine(mysql_server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for spec in ALL_SPECS:
                if spec.has_database:
                    connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{value}_{spec.name}`"))
                    connection.execute(sa.text(f"DROP USER IF EXISTS '{value}_{spec.name}'@'%'"))
            connection.execute(sa.text(f"DROP USER IF EXISTS '{value}_backup'@'%'"))
    finally:
        engine.dispose()


@pytest.fixture
def settings_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Builds a service's settings class from exactly the given environment, as the container does."""

    def build(service: str, environment: Mapping[str, str]) -> ServiceSettings:
        for key in list(os.environ):
            if key.startswith("AIC_"):
                monkeypatch.delenv(key)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        return SETTINGS_CLASSES[service](_env_file=None)  # type: ignore[call-arg]

    yield build


def settings_fields(service: str) -> set[str]:
    return {f"AIC_{name.upper()}" for name in SETTINGS_CLASSES[service].model_fields}


def service_clients(auth_environment: Mapping[str, str]) -> dict[str, str]:
    return json.loads(auth_environment["AIC_SERVICE_CLIENTS"])


def runner_environment(spec: ServiceSpec) -> dict[str, str]:
    """What the real-topology runner gives a service when every optional part (Redis, S3, a bootstrap
    admin) is configured: the variables a container must get too."""
    config = StackConfig(
        broker_management_url="http://guest:guest@127.0.0.1:15672",
        redis_url="redis://127.0.0.1:6379/0",
        s3_endpoint_url="http://127.0.0.1:9000",
        s3_access_key="access",
        s3_secret_key="secret",
        admin_username="admin",
    )
    clients = {other.name: "secret" for other in SERVICES if other.service_client}
    stack_secrets = StackSecrets(
        jwt_private_key="key",
        service_clients=clients,
        admin_password="password",
        metrics_token="token",
        broker_passwords=dict.fromkeys(ROLES, "secret"),
    )
    urls = {other.name: f"http://{other.name}:{CONTAINER_PORT}" for other in ALL_SPECS}
    return service_environment(spec, config, stack_secrets, urls)
