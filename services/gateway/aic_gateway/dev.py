"""``make dev``: the whole community in one process on embedded defaults."""

from __future__ import annotations

import logging

import uvicorn

from aic_gateway.app import create_app
from aic_gateway.settings import GatewaySettings

log = logging.getLogger("aic.dev")


def main() -> None:
    settings = GatewaySettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    url = f"http://{settings.host}:{settings.port}"
    log.info("AI Community is starting at %s (data in %s)", url, settings.data_dir.resolve())
    print(f"\n  AI Community: {url}\n", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
