"""A database that goes away while the server runs: clear 503s meanwhile, recovery on its own after."""

from __future__ import annotations

import time

import httpx
import pytest

from opendispatch.settings import Settings
from tests.services import PostgresServer
from tests.support import Provisioner, in_process_server, lift_limits, new_911, new_dispatch

S1 = "/v2/emergency/servers/1"


def until_answered(
    http: httpx.Client, method: str, path: str, body: object, seconds: float = 20
) -> httpx.Response:
    """Send the request again until it is answered with something other than a 503 (a bounded wait)."""
    deadline = time.monotonic() + seconds
    while True:
        answer = http.request(method, path, json=body)
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)


@pytest.mark.own_database
def test_postgresql_down_gives_503_with_retry_after_and_the_server_recovers_by_itself(
    own_postgresql_server: PostgresServer,
) -> None:
    database = own_postgresql_server.create_database()
    url = own_postgresql_server.url(database)
    provision = Provisioner(url)
    community = provision.community("Outage")
    lift_limits(provision, community)
    provision.close()
    settings = Settings(database_url=url, key_cache_seconds=0)
    with in_process_server(settings) as server, server.client(community.api_key) as http:
        before = http.post(f"{S1}/calls/911", json=new_911(caller="Before"))
        assert before.status_code == 200

        own_postgresql_server.pause()
        for method, path, body in (
            ("POST", f"{S1}/calls/911", new_911(caller="During")),
            ("POST", f"{S1}/dispatch-calls", new_dispatch()),
            ("GET", f"{S1}/calls", None),
        ):
            answer = http.request(method, path, json=body)
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"] == "1"
            assert answer.headers["content-type"] == "application/problem+json"
        v1 = http.post(
            "/emergency/call_911",
            json={"id": community.community_id, "key": community.api_key, "type": "CALL_911", "data": [{}]},
        )
        assert v1.status_code == 503 and v1.text.startswith("STORAGE UNAVAILABLE")

        own_postgresql_server.resume()
        after = until_answered(http, "POST", f"{S1}/calls/911", new_911(caller="After"))
        assert after.status_code == 200, after.text
        listed = until_answered(http, "GET", f"{S1}/calls", None).json()["emergencyCalls"]
    # What was acknowledged is there, and what was refused is not.
    assert [call["caller"] for call in listed] == ["Before", "After"]
