"""Helpers of the console tests: dispatcher accounts, a logged-in HTTP client, a browser page."""

from __future__ import annotations

from typing import Any

import httpx

from opendispatch.accounts import service as accounts
from opendispatch.accounts.schemas import AccountLookup
from opendispatch.web import sessions
from tests.support import Community, LiveServer, Provisioner, Server

PASSWORD = "correct horse battery"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
S1 = "/v2/emergency/servers/1"
C1 = "/console/api/servers/1"


def dispatcher(
    provision: Provisioner,
    community: Community,
    username: str = "alice",
    password: str = PASSWORD,
    community_user_id: str | None = None,
) -> dict[str, Any]:
    """An account that may log in to the console, made as `account create --dispatcher` does."""
    account = provision.account(community, username, community_user_id)
    with provision.db.transaction() as conn:
        sessions.set_password(
            conn,
            community_id=community.community_id,
            username=username,
            password_hash=sessions.hash_password(password),
        )
    return account


class Console:
    """An HTTP client logged in to the console, sending the CSRF token with every change."""

    def __init__(self, server: Server, community: Community, username: str = "alice") -> None:
        self.http = server.client()
        answer = self.http.post(
            "/console/api/login",
            json={"communityId": community.community_id, "username": username, "password": PASSWORD},
        )
        assert answer.status_code == 200, answer.text
        self.session = answer.json()
        self.http.headers["X-CSRF-Token"] = self.session["csrfToken"]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body if body is not None else {})

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.http.patch(path, json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(path)

    def close(self) -> None:
        self.http.close()


def place_unit(
    provision: Provisioner,
    community: Community,
    server: Server,
    *,
    name: str,
    unit_num: str,
    x: float | None = None,
    y: float | None = None,
    status: int = 2,
) -> int:
    """A unit selected on server 1 with a status and (optionally) coordinates, set through the API."""
    user = f"license:{name.lower().replace(' ', '-')}"
    account = provision.account(community, name, user)
    ident = provision.unit(community, account["uuid"], unit_num=unit_num)
    with server.client(community.api_key) as api:
        named = api.patch(
            f"/v2/emergency/accounts/{account['uuid']}/identifiers/{ident}", json={"name": name}
        )
        assert named.status_code == 200, named.text
        assert (
            api.patch(f"{S1}/units/status", json={"identIds": [ident], "status": status}).status_code == 200
        )
        if x is not None and y is not None:
            moved = api.patch(
                f"{S1}/unit-locations",
                json={"updates": [{"identId": ident, "location": "", "coordinates": {"x": x, "y": y}}]},
            )
            assert moved.status_code == 200, moved.text
    return ident


SAMPLE_MAP_BOUNDS = (-1200.0, 0.0, 1200.0, -2000.0)  # top-left and bottom-right corners, game units


def sample_map_png() -> bytes:
    """A made-up city for the screenshot: coast, a river, a park and a grid of streets (2 px a unit)."""
    import io
    import random

    from PIL import Image, ImageDraw

    width, height = 1200, 1000
    image = Image.new("RGB", (width, height), (14, 34, 51))  # sea
    draw = ImageDraw.Draw(image)
    draw.polygon(
        [
            (0, 0),
            (1200, 0),
            (1200, 760),
            (1010, 850),
            (820, 930),
            (560, 960),
            (300, 900),
            (120, 820),
            (0, 760),
        ],
        fill=(27, 37, 34),
    )
    draw.rectangle([470, 330, 610, 430], fill=(31, 52, 38))  # park
    draw.line(
        [(0, 260), (260, 300), (520, 250), (760, 320), (1200, 280)], fill=(16, 44, 66), width=14
    )  # river
    randomness = random.Random(7)
    for x in range(30, width, 60):
        draw.line([(x, 0), (x + randomness.randint(-6, 6), 900)], fill=(44, 52, 60), width=2)
    for y in range(20, 900, 55):
        draw.line([(0, y), (width, y + randomness.randint(-5, 5))], fill=(44, 52, 60), width=2)
    for road in ([(0, 640), (1200, 600)], [(600, 0), (640, 940)], [(100, 120), (1100, 820)]):
        draw.line(road, fill=(74, 82, 92), width=6)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class RestartedServer(LiveServer):
    """The application started again on the port a stopped LiveServer had: a browser's dropped
    connection comes back to the same address."""

    def __init__(self, settings: Any, clock: Any, port: int) -> None:
        import socket
        import threading

        super().__init__(settings, clock)
        self._socket.close()
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", port))
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )


def admin(provision: Provisioner, community: Community, username: str = "root") -> dict[str, Any]:
    """A console account holding the admin role beside the dispatcher's."""
    account = dispatcher(provision, community, username)
    with provision.db.transaction() as conn:
        accounts.change_account(
            conn,
            community_id=community.community_id,
            lookup=AccountLookup(username=username),
            add_roles=frozenset({"admin"}),
        )
    return account
