"""``make dev``: the whole community in one process on embedded defaults.

Every service app runs here with a SQLite file of its own under ``AIC_DATA_DIR`` and one shared
in-process bus; the gateway reaches them through its normal proxy code over an in-process transport.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from aic_common.bus import InProcessBus
from aic_common.server import serve
from aic_gateway.app import create_app
from aic_gateway.inprocess import IN_PROCESS_CLIENT, InProcessTransport
from aic_gateway.settings import GatewaySettings
from aic_gateway.stack import write_private

log = logging.getLogger("aic.dev")

ADMIN_PASSWORD_FILE = "admin-password.txt"  # noqa: S105 - a file name, not a password
SIMULATOR_CLIENT_ID = "simulator"


def admin_login(settings: GatewaySettings) -> tuple[str, str]:
    """The admin named by AIC_BOOTSTRAP_ADMIN_*; otherwise ``admin`` with a password kept under data_dir."""
    username = os.environ.get("AIC_BOOTSTRAP_ADMIN_USERNAME") or "admin"
    password = os.environ.get("AIC_BOOTSTRAP_ADMIN_PASSWORD")
    if password:
        return username, password
    saved = settings.data_dir / ADMIN_PASSWORD_FILE
    if saved.is_file():
        return username, saved.read_text(encoding="utf-8").strip()
    password = secrets.token_urlsafe(12)
    write_private(saved, password + "\n")
    return username, password


def where_the_admin_password_is(settings: GatewaySettings) -> str:
    """What the start-up banner says instead of the password: the terminal's output is often kept."""
    if os.environ.get("AIC_BOOTSTRAP_ADMIN_PASSWORD"):
        return "the password in AIC_BOOTSTRAP_ADMIN_PASSWORD"
    return f"the password in {(settings.data_dir / ADMIN_PASSWORD_FILE).resolve()}"


def make_private_directory(path: Path) -> None:
    """``path`` and its contents for this user alone (the SQLite files hold password hashes and
    tokens): created 0700, and made so if an earlier run left it open."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def build_dev_app(
    settings: GatewaySettings, *, simulator: dict[str, object] | None = None
) -> tuple[FastAPI, tuple[str, str]]:
    """The community's apps behind the gateway; ``simulator`` overrides simulator settings (tests, bench)."""
    from aic_auth.app import create_app as create_auth_app
    from aic_auth.settings import AuthSettings
    from aic_files.app import create_app as create_files_app
    from aic_files.settings import FilesSettings
    from aic_simulator.app import create_app as create_simulator_app
    from aic_simulator.pictures.files_client import FilesPictureStore
    from aic_simulator.settings import SimulatorSettings
    from aic_social.app import create_app as create_social_app
    from aic_social.settings import SocialSettings

    make_private_directory(settings.data_dir)
    bus = InProcessBus(settings.bus_namespace)
    username, password = admin_login(settings)
    # Each service gets its own SQLite file and the shared bus, whatever AIC_DATABASE_URL says.
    embedded = {"env": "dev", "data_dir": settings.data_dir, "database_url": "", "broker_url": ""}
    # The simulator stores its characters' pictures through files with a service token from auth: a
    # client of auth's made up for this run alone.
    simulator_secret = secrets.token_urlsafe(32)
    service_apps: dict[str, FastAPI] = {
        "auth": create_auth_app(
            AuthSettings(
                **embedded,
                bootstrap_admin_username=username,
                bootstrap_admin_password=SecretStr(password),
                service_clients={SIMULATOR_CLIENT_ID: SecretStr(simulator_secret)},
                # The gateway, which passes on the client address it found (AIC_TRUSTED_PROXIES).
                trusted_proxies=[IN_PROCESS_CLIENT[0]],
            ),
            shared_bus=bus,
        ),
    }
    # The other services verify tokens with auth's JWKS, fetched in-process.
    jwks = httpx.AsyncClient(transport=InProcessTransport(service_apps["auth"]), base_url="http://auth")
    service_apps["social"] = create_social_app(SocialSettings(**embedded), shared_bus=bus, jwks_client=jwks)
    # Files keeps its objects under data_dir/files.
    service_apps["files"] = create_files_app(FilesSettings(**embedded), shared_bus=bus, jwks_client=jwks)
    # The community comes alive on its own: the simulation starts as soon as the simulator leads.
    simulator_settings = SimulatorSettings(
        **{
            **embedded,
            "autostart": True,
            "service_client_id": SIMULATOR_CLIENT_ID,
            "service_client_secret": simulator_secret,
            **(simulator or {}),
        }
    )
    files = httpx.AsyncClient(transport=InProcessTransport(service_apps["files"]), base_url="http://files")
    service_apps["simulator"] = create_simulator_app(
        simulator_settings,
        shared_bus=bus,
        jwks_client=jwks,
        picture_store=FilesPictureStore.from_settings(
            simulator_settings, files_client=files, auth_client=jwks
        ),
    )
    gateway = create_app(settings, service_apps=service_apps, shared_bus=bus)
    gateway.state.service_apps = service_apps  # for tests and benchmarks that look inside a service
    gateway_lifespan = gateway.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for service_app in service_apps.values():
                await stack.enter_async_context(service_app.router.lifespan_context(service_app))
            await stack.enter_async_context(gateway_lifespan(app))
            await bus.start()  # every service is migrated and subscribed: deliver
            try:
                yield
            finally:
                await bus.stop()

    gateway.router.lifespan_context = lifespan
    return gateway, (username, password)


def main() -> None:
    settings = GatewaySettings(database_url="", broker_url="")
    app, (username, _) = build_dev_app(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(
        f"\n  AI Community is starting at {url}\n"
        f"  API docs: {url}/api/docs\n"
        f"  Admin login: {username}, {where_the_admin_password_is(settings)}\n"
        f"  Data: {Path(settings.data_dir).resolve()}\n",
        flush=True,
    )
    # Open live streams would hold a plain shutdown forever; give them 5 s to close.
    serve(
        app,
        host=settings.host,
        port=settings.port,
        graceful_shutdown_seconds=5,
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
