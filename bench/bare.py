"""The bare stack: the server's own application and uvicorn, with create 911 answered without a database.

The application is ``create_app``'s (the same middleware, problem handlers, route table, start-up and
background tasks) served by ``opendispatch.cli.run_app``, as ``opendispatch serve`` serves it (the same
uvicorn arguments and connection guard, start-up objects frozen out of the collector). Only the
create-911 route is swapped, in place (same position in the route table, so routing costs the same), for
one declared the same way: the ``Operation`` route class, the same path, path parameter, body model and
answer model. Its caller comes from a dict holding the one API key, read from the database once before
serving, and its answer is built in memory: the body is validated, the key and server checked, the same
JSON answered, and nothing stored or announced. What row 1 spends per request beyond this is the create
path's own work: the key cache, the database thread, the statements and the commit.

Serve it with ``python -P bench/bare.py --port P --database URL --key KEY`` (``command`` builds that line).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from opendispatch.api.auth import Caller, key_caller
from opendispatch.api.params import ServerId
from opendispatch.api.problems import PROBLEM_RESPONSES
from opendispatch.api.routing import Operation
from opendispatch.api.state import app_state
from opendispatch.calls.schemas import EmergencyCall, NewEmergencyCall
from opendispatch.clock import iso_utc
from opendispatch.communities.schemas import Principal
from opendispatch.communities.service import authenticate, list_servers
from opendispatch.errors import NotAuthenticated, NotFound
from opendispatch.settings import Settings
from opendispatch.storage.database import Database

CREATE_911_PATH = "/v2/emergency/servers/{serverId}/calls/911"


class MemoryKeys:
    """The caller behind ``Authorization: Bearer <key>``, from a dict instead of the key cache."""

    def __init__(self) -> None:
        self.principals: dict[str, Principal] = {}
        self.servers: dict[str, set[int]] = {}  # each community's server ids

    async def __call__(self, request: Request) -> Caller:
        scheme, _, api_key = request.headers.get("authorization", "").partition(" ")
        principal = self.principals.get(api_key.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise NotAuthenticated("The API key is unknown or has been revoked.")
        return key_caller(app_state(request), principal)


# Module-level, as the real route's dependency is: FastAPI reads the (string) annotations in this module.
KEYS = MemoryKeys()
router = APIRouter(tags=["calls"], responses=PROBLEM_RESPONSES, route_class=Operation)
_call_ids = itertools.count(1)


@router.post(CREATE_911_PATH, response_model=EmergencyCall, summary="Create 911 Call")
async def create_911_call(
    serverId: ServerId,
    call: NewEmergencyCall,
    caller: Annotated[Caller, Depends(KEYS)],
) -> EmergencyCall:
    """Answer a new 911 call as the real route does, storing nothing."""
    if serverId not in KEYS.servers.get(caller.community_id, set()):
        raise NotFound(f"Server {serverId} does not exist.")
    return EmergencyCall(
        callId=next(_call_ids),
        isEmergency=call.isEmergency,
        caller=call.caller,
        location=call.location,
        description=call.description,
        metaData=call.metaData,
        updated=iso_utc(caller.now()),
    )


def bare_app(settings: Settings, api_key: str) -> FastAPI:
    """``create_app(settings)`` with its create-911 route swapped for the bare one."""
    from opendispatch.app import create_app
    from opendispatch.calls import routes as call_routes

    database = Database(settings.database_url)
    try:
        with database.transaction() as conn:
            principal = authenticate(conn, api_key)
            if principal is None:
                raise RuntimeError("the API key is unknown")
            servers = {server.id for server in list_servers(conn, principal.community_id)}
    finally:
        database.close()
    KEYS.principals[api_key] = principal
    KEYS.servers[principal.community_id] = servers
    (bare,) = router.routes
    # Swapped in the calls router before create_app includes it: FastAPI reads an included router's
    # routes from the router itself. In this process only; the module is the bench's to change here.
    routes = call_routes.router.routes
    for index, route in enumerate(routes):
        if getattr(route, "path", None) == CREATE_911_PATH and "POST" in getattr(route, "methods", ()):
            routes[index] = bare
            return create_app(settings)
    raise RuntimeError(f"opendispatch.calls.routes has no POST {CREATE_911_PATH}")


def command(port: int, database: str, api_key: str) -> list[str]:
    """The command line that serves the bare stack: this file as a script (``-P``: bench/ stays off
    sys.path, where its modules could shadow installed ones)."""
    script = str(Path(__file__).resolve())
    return [sys.executable, "-P", script, "--port", str(port), "--database", database, "--key", api_key]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", required=True, help="Database URL, provisioned with a community.")
    parser.add_argument("--key", required=True, help="The community's API key.")
    args = parser.parse_args(argv)
    from opendispatch.cli import run_app

    settings = Settings().model_copy(
        update={"database_url": args.database, "host": args.host, "port": args.port}
    )
    # Served as `opendispatch serve` serves the real app: the same uvicorn arguments, connection guard
    # and frozen start-up objects (opendispatch.cli.run_app).
    run_app(bare_app(settings, args.key), settings)


if __name__ == "__main__":
    main()
