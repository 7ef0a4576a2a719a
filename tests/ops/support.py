"""The real application in process over a real SQLite file, its lifespan run."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from opendispatch.app import create_app
from opendispatch.settings import Settings


@asynccontextmanager
async def running(settings: Settings, clock: Any = None) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app with its lifespan started (migrations, writer, worker, listener), and a client over ASGI."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http
