"""Helpers for the v1 tests: a v1 client that sends what real v1 clients send, and a small world to act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import update

from opendispatch.communities.models import communities
from opendispatch.communities.schemas import Plan
from tests.support import Community, Provisioner, Server

S1 = "/v2/emergency/servers/1"

# What the JS SDK adds to every request (RequestManager.resolveRequestData).
SDK_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def envelope(community: Community, type: str, data: Any, **extra: Any) -> dict[str, Any]:
    """The v1 body ``{id, key, type, data}`` for the community, with any extra keys."""
    return {"id": community.community_id, "key": community.api_key, "type": type, "data": data, **extra}


def sdk_body(community: Community, type: str, data: Any) -> dict[str, Any]:
    """The body the JS SDK sends: the envelope plus its ``product`` (0 = CAD)."""
    return envelope(community, type, data, product=0)


def set_community(provision: Provisioner, community: Community, **values: Any) -> None:
    """Change the community's row (``plan``, ``api_enabled``) as an operator would."""
    if isinstance(values.get("plan"), Plan):
        values["plan"] = int(values["plan"])
    with provision.db.transaction() as conn:
        conn.execute(
            update(communities).where(communities.c.community_id == community.community_id).values(**values)
        )


@dataclass
class World:
    """A community with two linked officers on server 1, one 911 call and one dispatch call.

    Call ids are handed out in order: the 911 call is 1, the dispatch call 2, so the next call is 3.
    Officer 0 (``license:0``) is attached to the dispatch call and is its primary; officer 1 is free.
    """

    server: Server
    community: Community
    provision: Provisioner
    v2: httpx.Client
    v1: httpx.Client
    idents: list[int] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    emergency_id: int = 0
    dispatch_id: int = 0

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        """POST a v1 request (any JSON) the way a v1 client does."""
        return self.v1.post(path, json=body, headers=headers or {})

    def board(self) -> dict[str, Any]:
        """v2 Get Calls of server 1."""
        answer = self.v2.get(f"{S1}/calls", params={"closedLimit": 100})
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def units(self) -> dict[int, dict[str, Any]]:
        """v2 Get Units of server 1, offline ones too, by identId."""
        answer = self.v2.get(f"{S1}/units", params={"includeOffline": "true"})
        assert answer.status_code == 200, answer.text
        return {unit["id"]: unit for unit in answer.json()}

    def dispatch(self, call_id: int | None = None) -> dict[str, Any]:
        """A dispatch call of server 1 as v2 Get Calls shows it, open or closed."""
        wanted = self.dispatch_id if call_id is None else call_id
        board = self.board()
        for call in board["activeCalls"] + board["closedCalls"]:
            if call["callId"] == wanted:
                return dict(call)
        raise AssertionError(f"dispatch call {wanted} is not listed")
