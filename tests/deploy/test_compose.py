"""docker-compose.yml, read as compose reads it with a .env made by deploy/generate-secrets.sh: the
commands and variables are the real-topology runner's, the credentials agree between each service and
the store it uses, and every service waits for what it needs."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from aic_gateway.stack import (
    AUTH,
    CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
    CONTAINER_HOST,
    CONTAINER_PORT,
    JWKS_PATH,
    READY_PATH,
    migrate_command,
    serve_command,
)

from .conftest import (
    ALL_SPECS,
    COMPOSE_FILE,
    ENV_EXAMPLE,
    REPO,
    SERVER_VARIABLES,
    STORE_IMAGES,
    STORE_SCRIPTS,
    Compose,
    Dockerfile,
    assert_broker_user,
    generated_compose_env,
    parse_dotenv,
    runner_environment,
    service_clients,
    settings_fields,
    url_endpoint,
)

pytestmark = pytest.mark.unit

PYTHON_SERVICES = [spec.name for spec in ALL_SPECS]
DATABASE_SERVICES = [spec for spec in ALL_SPECS if spec.has_database]


def duration_seconds(value: str) -> float:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match and value, f"unexpected duration {value!r}"
    return int(match[1] or 0) * 60 + int(match[2] or 0)


def test_compose_refuses_to_start_until_every_variable_of_env_example_is_set() -> None:
    example = parse_dotenv(ENV_EXAMPLE.read_text(encoding="utf-8"))
    assert set(Compose.load({}).missing) == set(example)
    # The example alone is not enough: every secret in it is left empty.
    empty = {name for name, value in example.items() if not value}
    assert set(Compose.load(example).missing) == empty
    assert empty >= {"MYSQL_ROOT_PASSWORD", "JWT_PRIVATE_KEY", "ADMIN_PASSWORD", "S3_SECRET_KEY"}
    # The generator fills in exactly those variables.
    assert set(generated_compose_env()) == set(example)


def test_secrets_reach_the_containers_only_from_the_env_file() -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    secret_name = re.compile(r"PASSWORD|SECRET|_KEY$|_PASS$|CLIENTS|TOKEN")

    def environments(node: Any) -> list[dict[str, Any]]:
        found = []
        if isinstance(node, dict):
            if isinstance(node.get("environment"), dict):
                found.append(node["environment"])
            for key, value in node.items():
                if key.startswith("x-") and key.endswith("-env"):
                    found.append(value)
                found.extend(environments(value))
        return found

    checked = 0
    for environment in environments(raw):
        for name, value in environment.items():
            text = str(value)
            carries_credentials = secret_name.search(name) or re.search(r"://[^/@\s]+@", text)
            if carries_credentials:
                checked += 1
                assert "${" in text, f"{name} has a literal secret in docker-compose.yml"
    assert checked >= 20


def test_python_services_run_the_runner_commands(compose: Compose) -> None:
    for spec in ALL_SPECS:
        service = compose.services[spec.name]
        expected = serve_command(
            spec,
            host=CONTAINER_HOST,
            port=CONTAINER_PORT,
            graceful_shutdown_seconds=CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
        )
        assert service["command"] == ["python", *expected]
        # compose stops a container after stop_grace_period: longer than uvicorn's graceful shutdown.
        assert duration_seconds(service["stop_grace_period"]) > CONTAINER_GRACEFUL_SHUTDOWN_SECONDS
        migration = compose.services.get(f"migrate-{spec.name}")
        if spec.has_database:
            assert migration is not None, f"no migration step for {spec.name}"
            assert migration["command"] == ["python", *migrate_command(spec)]
            assert migration["image"] == service["image"]
            assert compose.environment(f"migrate-{spec.name}") == compose.environment(spec.name)
            assert migration["restart"] == "no"
        else:
            assert migration is None


def test_each_service_gets_the_runners_variables_and_its_settings_accept_them(
    compose: Compose, settings_environment: Any
) -> None:
    for spec in ALL_SPECS:
        environment = compose.environment(spec.name)
        assert set(environment) == set(runner_environment(spec)), spec.name
        for name in environment:
            assert name in settings_fields(spec.name) | SERVER_VARIABLES, f"{spec.name} does not read {name}"
        settings = settings_environment(spec.name, environment)
        assert settings.env.value == "prod"
        assert not settings.migrate_on_start  # the migration step did it


def test_credentials_agree_between_each_service_and_the_stores_it_uses(compose: Compose) -> None:
    mysql = compose.environment("mysql")
    rabbitmq = compose.environment("rabbitmq")
    redis = compose.environment("redis")
    minio_setup = compose.environment("minio-setup")
    auth = compose.environment(AUTH)
    for spec in ALL_SPECS:
        environment = compose.environment(spec.name)
        if spec.has_database:
            # create-databases.sh makes user and database aic_<service> with MYSQL_<SERVICE>_PASSWORD.
            url = urlsplit(environment["AIC_DATABASE_URL"])
            assert (url.scheme, url.hostname, url.port) == ("mysql+pymysql", "mysql", 3306)
            assert url.username == url.path.lstrip("/") == f"aic_{spec.name}"
            assert url.password == mysql[f"MYSQL_{spec.name.upper()}_PASSWORD"]
        broker = urlsplit(environment["AIC_BROKER_URL"])
        assert (broker.hostname, broker.port) == ("rabbitmq", 5672)
        # Its own broker user, in the definitions RabbitMQ imports beside the administrator.
        assert_broker_user(
            environment["AIC_BROKER_URL"],
            spec.name,
            json.loads(rabbitmq["RABBITMQ_DEFINITIONS"]),
            (rabbitmq["RABBITMQ_DEFAULT_USER"], rabbitmq["RABBITMQ_DEFAULT_PASS"]),
            environment["AIC_BUS_NAMESPACE"],
        )
        assert environment["AIC_JWKS_URL"] == f"http://{AUTH}:{CONTAINER_PORT}{JWKS_PATH}"
        if spec.service_client:
            assert environment["AIC_SERVICE_CLIENT_ID"] == spec.name
            assert service_clients(auth)[spec.name] == environment["AIC_SERVICE_CLIENT_SECRET"]
    assert set(service_clients(auth)) == {spec.name for spec in ALL_SPECS if spec.service_client}

    files = compose.environment("files")
    assert (files["AIC_S3_ACCESS_KEY"], files["AIC_S3_SECRET_KEY"], files["AIC_S3_BUCKET"]) == (
        minio_setup["S3_ACCESS_KEY"],
        minio_setup["S3_SECRET_KEY"],
        minio_setup["S3_BUCKET"],
    )
    assert url_endpoint(files["AIC_S3_ENDPOINT_URL"]) == url_endpoint(minio_setup["MINIO_URL"])
    gateway = compose.environment("gateway")
    assert urlsplit(gateway["AIC_REDIS_URL"]).password == redis["REDIS_PASSWORD"]
    for spec in ALL_SPECS:
        if spec.name != "gateway":
            assert gateway[f"AIC_{spec.name.upper()}_URL"] == f"http://{spec.name}:{CONTAINER_PORT}"


def test_every_service_and_migration_gets_the_one_metrics_token_of_the_env_file(
    compose: Compose, compose_env: dict[str, str]
) -> None:
    token = compose_env["METRICS_TOKEN"]
    assert len(token) >= 32
    for spec in ALL_SPECS:
        steps = [spec.name, *([f"migrate-{spec.name}"] if spec.has_database else [])]
        for step in steps:
            assert compose.environment(step)["AIC_METRICS_TOKEN"] == token, step
    # A missing token stops compose before anything starts with /metrics open.
    assert (
        "METRICS_TOKEN"
        in Compose.load({k: v for k, v in compose_env.items() if k != "METRICS_TOKEN"}).missing
    )


def test_the_setup_scripts_are_mounted_and_cover_every_service_with_a_database(compose: Compose) -> None:
    script = (STORE_SCRIPTS / "create-databases.sh").read_text(encoding="utf-8")
    listed = re.search(r"for service in ([a-z ]+); do", script)
    assert listed and set(listed[1].split()) == {spec.name for spec in DATABASE_SERVICES}
    for store, script_name in (("mysql", "create-databases.sh"), ("minio-setup", "setup-minio.sh")):
        mounts = [volume.split(":")[0] for volume in compose.services[store]["volumes"]]
        assert f"./{(STORE_SCRIPTS / script_name).relative_to(REPO)}" in mounts


def test_every_service_waits_for_what_it_connects_to(compose: Compose) -> None:
    for spec in ALL_SPECS:
        dependencies = compose.depends_on(spec.name)
        hosts = {
            endpoint[0]
            for value in compose.environment(spec.name).values()
            if (endpoint := url_endpoint(value))
        }
        for host in hosts - {spec.name}:
            assert host in compose.services, f"{spec.name} connects to {host}, which compose does not run"
            assert dependencies.get(host) == "service_healthy", f"{spec.name} does not wait for {host}"
        if spec.has_database:
            # Every migration, not only its own: migrations also declare each service's queues, and a
            # service may publish to any of them from its first start.
            for other in ALL_SPECS:
                if other.has_database:
                    assert dependencies[f"migrate-{other.name}"] == "service_completed_successfully"
            assert compose.depends_on(f"migrate-{spec.name}") == {
                "mysql": "service_healthy",
                "rabbitmq": "service_healthy",
            }
    assert compose.depends_on("files")["minio-setup"] == "service_completed_successfully"
    assert compose.depends_on("minio-setup") == {"minio": "service_healthy"}

    for name in compose.services:
        for dependency, condition in compose.depends_on(name).items():
            assert dependency in compose.services
            if condition == "service_healthy":
                assert "healthcheck" in compose.services[dependency], f"{dependency} has no healthcheck"

    def reaches(start: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            dependency == target or (dependency not in seen and reaches(dependency, target, seen | {start}))
            for dependency in compose.depends_on(start)
        )

    assert not [name for name in compose.services if reaches(name, name)], "a dependency cycle"


def test_service_healthchecks_ask_the_port_the_service_listens_on_whether_it_is_ready(
    compose: Compose,
) -> None:
    for spec in ALL_SPECS:
        service = compose.services[spec.name]
        listens_on = service["command"][service["command"].index("--port") + 1]
        probe = service["healthcheck"]["test"]
        assert probe[:2] == ["CMD", "python"]
        assert f"'http://127.0.0.1:{listens_on}{READY_PATH}'" in probe[-1]
    for store in ("mysql", "rabbitmq", "redis", "minio"):
        assert compose.services[store]["healthcheck"]["test"]


def test_images_are_dockerfile_targets_and_stores_are_pinned(
    compose: Compose, dockerfile: Dockerfile
) -> None:
    for name, service in compose.services.items():
        image = service["image"]
        target = re.fullmatch(r"aic/([a-z]+):[\w.-]+", image)
        if target:
            assert service["build"] == {"context": ".", "target": target[1]}
            assert target[1] in dockerfile.stages
            assert name in (target[1], f"migrate-{target[1]}")
        else:
            repository, _, tag = image.partition(":")
            assert repository in STORE_IMAGES, f"{name} runs {image}, which is neither ours nor a store"
            assert tag and tag != "latest", f"{name}: pin the version of {image}"


def test_python_containers_are_hardened_and_only_the_gateway_is_published(compose: Compose) -> None:
    for spec in ALL_SPECS:
        for name in (spec.name, f"migrate-{spec.name}"):
            service = compose.services.get(name)
            if service is None:
                continue
            assert service["read_only"] is True
            assert service["tmpfs"] == ["/tmp"]
            assert service["cap_drop"] == ["ALL"]
            assert "no-new-privileges:true" in service["security_opt"]
    for name, service in compose.services.items():
        for published in service.get("ports") or []:
            if name != "gateway":
                assert published.startswith("127.0.0.1:"), f"{name} is published beyond this machine"
    assert compose.services["gateway"]["ports"] == [f"8000:{CONTAINER_PORT}"]


def test_the_backup_and_restore_run_the_backup_scripts_with_the_stores_credentials(compose: Compose) -> None:
    # `docker compose --profile backup run --rm backup`: the dump in the MySQL image, then the upload in
    # the AWS CLI image, as the CronJob of components/backup runs them; restore likewise.
    scripts = REPO / "deploy" / "k8s" / "components" / "backup"
    services = compose.services
    steps = {
        "backup-dump": ("backup", "backup-databases.sh", ["dump"]),
        "backup": ("backup", "backup-databases.sh", ["upload"]),
        "restore-download": ("restore", "restore-databases.sh", ["download", "latest"]),
        "restore": ("restore", "restore-databases.sh", ["/spool/restore.sql.gz"]),
    }
    for name, (profile, script, arguments) in steps.items():
        service = services[name]
        assert service["profiles"] == [profile], name  # never started by a plain `up`
        assert service["entrypoint"] == ["/bin/sh"] and service["command"] == [f"/{script}", *arguments]
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
        assert mounts[f"/{script}"] == f"./{(scripts / script).relative_to(REPO)}"
        assert mounts["/spool"] == "backup-spool"
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
    assert services["backup"]["depends_on"]["backup-dump"]["condition"] == "service_completed_successfully"
    assert services["restore"]["depends_on"]["restore-download"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["backup-dump"]["image"] == services["restore"]["image"] == services["mysql"]["image"]

    mysql = compose.environment("mysql")
    minio_setup = compose.environment("minio-setup")
    dump = compose.environment("backup-dump")
    upload = compose.environment("backup")
    # create-databases.sh makes aic_backup with MYSQL_BACKUP_PASSWORD; setup-minio.sh the backup key.
    assert (dump["MYSQL_HOST"], dump["MYSQL_BACKUP_USER"]) == ("mysql", "aic_backup")
    assert dump["MYSQL_BACKUP_PASSWORD"] == mysql["MYSQL_BACKUP_PASSWORD"]
    assert (upload["AWS_ACCESS_KEY_ID"], upload["AWS_SECRET_ACCESS_KEY"], upload["BACKUP_S3_BUCKET"]) == (
        minio_setup["BACKUP_S3_ACCESS_KEY"],
        minio_setup["BACKUP_S3_SECRET_KEY"],
        minio_setup["BACKUP_S3_BUCKET"],
    )
    assert url_endpoint(upload["BACKUP_S3_ENDPOINT"]) == url_endpoint(minio_setup["MINIO_URL"])
    assert int(upload["BACKUP_RETENTION_DAYS"]) > 0
    assert compose.environment("restore-download") == upload
    assert compose.environment("restore")["MYSQL_ROOT_PASSWORD"] == mysql["MYSQL_ROOT_PASSWORD"]
