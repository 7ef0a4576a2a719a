"""ASGI middleware every request passes: the request-body size limit."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opendispatch.api.problems import problem


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, whether or not Content-Length announces them.

    The paths in ``larger`` take bodies up to their own figure instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(scope["path"], self.max_bytes)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, self._detail(limit))
            return message

        await self.app(scope, counting_receive, send)

    def _detail(self, limit: int) -> str:
        return f"The request body is larger than {limit} bytes."

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(Request(scope, receive), 413, self._detail(limit), headers={"Connection": "close"})
        await response(scope, receive, send)
