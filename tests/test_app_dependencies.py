"""No dependency of any route waits for the thread pool.

FastAPI runs a dependency written as a plain ``def`` on the thread pool: a thread hop for each one on
every request. The dependencies here only look things up (the service, the caller, a page size), so
they are ``async def`` and run on the event loop; on the feed the hops had cost a fifth of social's CPU.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute


def service_apps(data_dir: Path) -> dict[str, FastAPI]:
    from aic_auth.app import create_app as create_auth_app
    from aic_auth.settings import AuthSettings
    from aic_files.app import create_app as create_files_app
    from aic_files.settings import FilesSettings
    from aic_gateway.app import create_app as create_gateway_app
    from aic_gateway.settings import GatewaySettings
    from aic_simulator.app import create_app as create_simulator_app
    from aic_simulator.settings import SimulatorSettings
    from aic_social.app import create_app as create_social_app
    from aic_social.settings import SocialSettings

    embedded = {"env": "dev", "data_dir": data_dir, "database_url": "", "broker_url": ""}
    return {
        "auth": create_auth_app(AuthSettings(**embedded)),
        "social": create_social_app(SocialSettings(**embedded)),
        "files": create_files_app(FilesSettings(**embedded)),
        "simulator": create_simulator_app(SimulatorSettings(**embedded)),
        "gateway": create_gateway_app(GatewaySettings(**embedded)),
    }


def api_routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif isinstance(getattr(route, "original_router", None), APIRouter):  # an included router
            yield from api_routes(route.original_router.routes)  # type: ignore[attr-defined]


def dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from dependencies(dependency)


def runs_on_the_loop(call: object) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004


def test_every_dependency_of_every_route_runs_on_the_event_loop(tmp_path: Path) -> None:
    checked = 0
    on_the_thread_pool = []
    for name, app in service_apps(tmp_path).items():
        for route in api_routes(app.routes):
            for dependency in dependencies(route.dependant):
                if dependency.call is None:
                    continue
                checked += 1
                if not runs_on_the_loop(dependency.call):
                    on_the_thread_pool.append(f"{name} {route.path}: {dependency.call.__qualname__}")
    assert checked > 50, "the routes' dependencies were found"
    assert on_the_thread_pool == []


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # The apps read AIC_* from the environment; a CI job's service URLs must not reach them.
    import os

    for key in [k for k in os.environ if k.startswith("AIC_")]:
        monkeypatch.delenv(key)
