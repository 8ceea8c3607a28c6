"""The Dockerfile, read statically (no container engine here): one slim, non-root target per service that
runs what the real-topology runner runs, and a build context without local state or secrets."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib

import pytest

from aic_gateway.stack import (
    CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
    CONTAINER_HOST,
    CONTAINER_PORT,
    LIVE_PATH,
    serve_command,
)

from .conftest import ALL_SPECS, REPO, SERVER_VARIABLES, Dockerfile, settings_fields

pytestmark = pytest.mark.unit

BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|make|build-essential|apt-get|apk|uv|pip install|npm)\b")


def test_there_is_one_target_per_service_running_the_runner_command(dockerfile: Dockerfile) -> None:
    for spec in ALL_SPECS:
        assert spec.name in dockerfile.stages, f"no target {spec.name} in the Dockerfile"
        cmd = dockerfile.effective(spec.name, "CMD")
        assert cmd is not None
        expected = serve_command(
            spec,
            host=CONTAINER_HOST,
            port=CONTAINER_PORT,
            graceful_shutdown_seconds=CONTAINER_GRACEFUL_SHUTDOWN_SECONDS,
        )
        assert json.loads(cmd) == ["python", *expected]


def test_every_target_is_slim_python_as_a_non_root_user_with_a_healthcheck(dockerfile: Dockerfile) -> None:
    for spec in ALL_SPECS:
        base = dockerfile.base_image(spec.name)
        assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", base), f"{spec.name} rests on {base}"
        user = dockerfile.effective(spec.name, "USER")
        assert user is not None and user.split(":")[0].isdigit() and int(user.split(":")[0]) >= 10000
        healthcheck = dockerfile.effective(spec.name, "HEALTHCHECK")
        assert healthcheck is not None and "CMD" in healthcheck
        # python, not curl: the slim image has no curl.
        probe = json.loads(healthcheck.split("CMD", 1)[1])
        assert probe[0] == "python"
        assert f"http://127.0.0.1:{CONTAINER_PORT}{LIVE_PATH}" in probe[-1]


def test_final_images_carry_no_build_tools_and_only_the_built_environment(dockerfile: Dockerfile) -> None:
    for spec in ALL_SPECS:
        for stage in dockerfile.lineage(spec.name):
            for keyword, argument in stage.instructions:
                if keyword == "RUN":
                    assert not BUILD_TOOLS.search(argument), f"{stage.name} runs {argument!r}"
                if keyword == "COPY":
                    # Only what another stage built: the venv (and the gateway's web UI), never sources.
                    assert argument.startswith("--from="), f"{stage.name} copies {argument!r}"
        copies = [argument for stage in dockerfile.lineage(spec.name) for argument in stage.all("COPY")]
        assert f"--from=build /opt/aic/{spec.name} /opt/aic/{spec.name}" in copies
        path = dockerfile.effective(spec.name, "ENV") or ""
        assert f"PATH=/opt/aic/{spec.name}/bin:" in path


def test_the_build_stage_installs_each_services_package_from_the_lock(dockerfile: Dockerfile) -> None:
    runs = " ".join(dockerfile.stages["build"].all("RUN"))
    listed = re.findall(r"for service in ([a-z ]+); do", runs)
    assert listed and all(set(names.split()) == {spec.name for spec in ALL_SPECS} for names in listed)
    assert "uv sync --frozen --no-dev --no-editable --package aic-$service" in runs
    copied = " ".join(dockerfile.stages["build"].all("COPY"))
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    members = [
        path for pattern in workspace["tool"]["uv"]["workspace"]["members"] for path in REPO.glob(pattern)
    ]
    for member in members:
        # uv needs every member's pyproject.toml to resolve the workspace.
        assert f"{member.relative_to(REPO)}/pyproject.toml" in copied


def test_the_gateway_image_serves_the_web_ui_built_in_its_own_stage(dockerfile: Dockerfile) -> None:
    web = dockerfile.stages["web"]
    runs = web.all("RUN")
    assert any(run.startswith("npm ci") for run in runs) and "npm run build" in runs
    assert any("services/gateway/web/package-lock.json" in copy for copy in web.all("COPY"))
    gateway_copies = dockerfile.stages["gateway"].all("COPY")
    assert "--from=web /web/dist /opt/aic/web" in gateway_copies
    environment = " ".join(dockerfile.stages["gateway"].all("ENV"))
    assert "AIC_WEB_DIST_DIR=/opt/aic/web" in environment


def test_every_setting_an_image_sets_is_one_its_service_reads(dockerfile: Dockerfile) -> None:
    for spec in ALL_SPECS:
        for stage in dockerfile.lineage(spec.name):
            for argument in stage.all("ENV"):
                for name in re.findall(r"(?:^|\s)([A-Z_][A-Z0-9_]*)=", argument):
                    if name.startswith("AIC_"):
                        assert name in settings_fields(spec.name) | SERVER_VARIABLES, (spec.name, name)


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for entry in (".git", ".venv", ".env", "var", "**/node_modules", "**/dist"):
        assert entry in ignored


def test_make_images_builds_every_target_under_the_documented_names() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "images", "TAG=1.2.3", "REGISTRY=registry.example.com/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    built = {}
    for line in dry_run.stdout.splitlines():
        words = shlex.split(line)
        if words[:2] == ["docker", "build"]:
            built[words[words.index("--target") + 1]] = words[words.index("-t") + 1]
    assert built == {spec.name: f"registry.example.com/aic/{spec.name}:1.2.3" for spec in ALL_SPECS}
