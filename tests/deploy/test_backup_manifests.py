"""The nightly database backup as the overlays render it (components/backup): a CronJob that runs
backup-databases.sh's two steps with the Secret deploy/generate-secrets.sh makes, never two at once,
hardened like every pod, and allowed to reach exactly MySQL and the object store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import (
    ALL_SPECS,
    DEPLOY,
    PROD_ENDPOINTS,
    Endpoint,
    Manifests,
    Network,
    containers,
    generate_k8s_secrets,
    pod_spec,
)

pytestmark = pytest.mark.unit

BACKUP_SCRIPTS = DEPLOY / "k8s" / "components" / "backup"
CRONJOB = "backup-databases"


def backup_containers(overlay: Manifests) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in containers(overlay.get("CronJob", CRONJOB))}


def test_the_backup_script_dumps_every_service_database() -> None:
    script = (BACKUP_SCRIPTS / "backup-databases.sh").read_text(encoding="utf-8")
    listed = re.search(r'^services="([a-z ]+)"$', script, re.MULTILINE)
    assert listed and set(listed[1].split()) == {spec.name for spec in ALL_SPECS if spec.has_database}


def test_the_cronjob_runs_one_backup_at_a_time_and_keeps_a_few_for_their_logs(overlay: Manifests) -> None:
    cronjob = overlay.get("CronJob", CRONJOB)
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 1 <= spec["successfulJobsHistoryLimit"] <= 5 and 1 <= spec["failedJobsHistoryLimit"] <= 5
    assert spec["timeZone"] == "Etc/UTC"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1 and job["activeDeadlineSeconds"] > 0
    pod = pod_spec(cronjob)
    assert pod["restartPolicy"] == "Never"
    # The dump runs first (an init container); the upload only after it finished well.
    (dump,) = pod["initContainers"]
    (upload,) = pod["containers"]
    assert dump["command"] == ["/bin/sh", "/scripts/backup-databases.sh", "dump"]
    assert upload["command"] == ["/bin/sh", "/scripts/backup-databases.sh", "upload"]
    assert dump["image"].startswith("mysql:") and upload["image"].startswith("amazon/aws-cli:")
    volumes = {v["name"]: v for v in pod["volumes"]}
    for container in (dump, upload):
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/spool"]] and "emptyDir" in volumes[mounts["/tmp"]]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert overlay.environment(container)["BACKUP_SPOOL_DIR"] == "/spool"
    scripts = overlay.config_data("ConfigMap", volumes[mounts["/scripts"]]["configMap"]["name"])
    for name in ("backup-databases.sh", "restore-databases.sh"):
        assert scripts[name] == (BACKUP_SCRIPTS / name).read_text(encoding="utf-8")


def test_each_step_gets_only_the_credentials_it_uses(overlays: dict[str, Manifests]) -> None:
    for overlay in overlays.values():
        steps = backup_containers(overlay)
        dump, upload = overlay.environment(steps["dump"]), overlay.environment(steps["upload"])
        assert not {k for k in dump if k.startswith("AWS_")}
        assert not {k for k in upload if k.startswith("MYSQL_")}
        assert dump["MYSQL_BACKUP_USER"] == "aic_backup" and len(dump["MYSQL_BACKUP_PASSWORD"]) >= 32
        assert upload["BACKUP_S3_BUCKET"] and int(upload["BACKUP_RETENTION_DAYS"]) > 0

    # dev: the user create-databases.sh makes from the MySQL Secret, the MinIO user setup-minio.sh makes.
    dev = overlays["dev"]
    steps = backup_containers(dev)
    dump, upload = dev.environment(steps["dump"]), dev.environment(steps["upload"])
    mysql = dev.environment(pod_spec(dev.get("StatefulSet", "mysql"))["containers"][0])
    minio_setup = dev.environment(pod_spec(dev.get("Job", "minio-setup"))["containers"][0])
    assert (dump["MYSQL_HOST"], dump["MYSQL_PORT"]) == ("mysql", "3306")
    assert dump["MYSQL_BACKUP_PASSWORD"] == mysql["MYSQL_BACKUP_PASSWORD"]
    assert dump["MYSQL_BACKUP_OPTIONS"] == ""
    assert (upload["AWS_ACCESS_KEY_ID"], upload["AWS_SECRET_ACCESS_KEY"]) == (
        minio_setup["BACKUP_S3_ACCESS_KEY"],
        minio_setup["BACKUP_S3_SECRET_KEY"],
    )
    assert upload["AWS_ACCESS_KEY_ID"] != minio_setup["S3_ACCESS_KEY"]  # not the files service's key
    assert upload["BACKUP_S3_ENDPOINT"] == "http://minio:9000"

    # prod: the managed server over verified TLS, the provider's S3 endpoint.
    prod = overlays["prod"]
    steps = backup_containers(prod)
    dump, upload = prod.environment(steps["dump"]), prod.environment(steps["upload"])
    assert dump["MYSQL_HOST"] == PROD_ENDPOINTS["MYSQL_HOST"]
    assert "--ssl-mode=VERIFY_IDENTITY" in dump["MYSQL_BACKUP_OPTIONS"].split()
    assert upload["BACKUP_S3_ENDPOINT"].startswith("https://")


def test_generate_secrets_takes_the_backup_key_and_mysqldump_options_it_is_given(tmp_path: Path) -> None:
    generate_k8s_secrets(
        tmp_path / "secrets",
        MYSQL_HOST="db.internal",
        BACKUP_S3_ACCESS_KEY="AKIABACKUPKEY",
        BACKUP_S3_SECRET_KEY="backupSecretKey0123",
        BACKUP_MYSQL_OPTIONS="--ssl-mode=VERIFY_IDENTITY --ssl-ca=/etc/aic/db-ca.pem",
    )
    lines = (tmp_path / "secrets" / "backup.env").read_text().splitlines()
    backup = dict(line.split("=", 1) for line in lines)
    assert backup["MYSQL_HOST"] == "db.internal"
    assert backup["AWS_ACCESS_KEY_ID"] == "AKIABACKUPKEY"
    assert backup["AWS_SECRET_ACCESS_KEY"] == "backupSecretKey0123"
    assert backup["MYSQL_BACKUP_OPTIONS"] == "--ssl-mode=VERIFY_IDENTITY --ssl-ca=/etc/aic/db-ca.pem"
    mysql = dict(line.split("=", 1) for line in (tmp_path / "secrets" / "mysql.env").read_text().splitlines())
    assert mysql["MYSQL_BACKUP_PASSWORD"] == backup["MYSQL_BACKUP_PASSWORD"]


def test_the_backup_reaches_exactly_mysql_and_the_object_store(overlays: dict[str, Manifests]) -> None:
    internet = Endpoint("internet", address="198.51.100.23")
    dev = Network(overlays["dev"])
    backup = dev.pods_of(CRONJOB)
    assert dev.allows(backup, dev.pods_of("mysql"), 3306)
    assert dev.allows(backup, dev.pods_of("minio"), 9000)
    assert not dev.allows(backup, dev.pods_of("minio"), 9001)  # not the console
    for name in ("rabbitmq", "redis", "auth", "gateway"):
        pod = dev.pods_of(name)
        for port in pod.ports.values():
            assert not dev.allows(backup, pod, port), name
    assert not dev.allows(backup, internet, 443)
    assert not dev.allows(backup, internet, 3306)

    prod = Network(overlays["prod"])
    backup = prod.pods_of(CRONJOB)
    managed = Endpoint("managed-store", address="10.20.30.40")
    assert prod.allows(backup, managed, 3306) and prod.allows(backup, managed, 443)
    assert not prod.allows(backup, managed, 22) and not prod.allows(backup, managed, 5671)
    assert not prod.allows(backup, prod.pods_of("auth"), 8000)
    # Only the backup pods may take the backup's way out.
    assert not prod.allows(prod.pods_of("gateway"), managed, 3306)
