"""The app of one worker process of `creative serve --workers N`.

uvicorn starts each worker in a fresh interpreter and builds its app by importing `worker_app`; the
home comes from CREATIVE_HOME / CREATIVE_DB_URL and the settings from CREATIVE_SERVE_SETTINGS (JSON),
which `creative serve` sets before starting them.
"""

from __future__ import annotations

import dataclasses
import json
import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creative.home import resolve_home
from creative.web.app import create_app
from creative.web.settings import WebSettings

SETTINGS_ENV = "CREATIVE_SERVE_SETTINGS"
WORKER_HEADER = "x-served-by"
APP_IMPORT = f"{__name__}:worker_app"


def hand_down(settings: WebSettings) -> None:
    """Put the settings where the workers' `worker_app` reads them."""
    os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))


class WorkerHeader:
    """Names the worker (its pid) on every response, so an operator or a test can see how requests spread."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.value = f"pid-{os.getpid()}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (WORKER_HEADER.encode(), self.value)]
            await send(message)

        await self.app(scope, receive, named)


def worker_app() -> ASGIApp:
    """uvicorn's app factory in each worker."""
    settings = WebSettings(**json.loads(os.environ.get(SETTINGS_ENV, "{}")))
    app = create_app(resolve_home(), settings)
    app.add_middleware(WorkerHeader)
    return app
