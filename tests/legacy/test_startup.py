"""Start-up the way the clients do it: GET_VERSION, then GET_SERVERS, each parsed as the client parses it.

The JS SDK's CADManager asks GET_VERSION the moment it is constructed and reads the answer with
``parseInt(text.replace(/(^\\d+)(.+$)/i, '$1'))``; from STANDARD (2) up it then asks GET_SERVERS and reads
``servers`` from the JSON (or from text it parses). A failure of either throws out of the constructor.
The older in-game resource reads the version as the first character of the answer and, from PLUS (3) up,
decodes the servers answer and looks for its own server id among them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from opendispatch.communities.schemas import Plan
from tests.legacy.v1 import SDK_HEADERS, envelope, sdk_body, set_community
from tests.support import Community, Provisioner, Server


def sdk_parse(answer: httpx.Response) -> Any:
    # SequentialHandler.parseResponse: JSON by Content-Type, text otherwise; 400/401/404 text throws.
    assert answer.status_code == 200, answer.text
    if answer.headers.get("content-type", "").startswith("application/json"):
        return answer.json()
    return answer.text


def sdk_start(http: httpx.Client, community: Community) -> tuple[int, list[dict[str, Any]] | None]:
    """What `new Sonoran.Instance({communityId, apiKey, product: CAD, cadApiUrl})` does on its own."""
    version_text = str(
        sdk_parse(http.post("/general/get_version", json=sdk_body(community, "GET_VERSION", [])))
    )
    version = int(re.sub(r"(^\d+)(.+$)", r"\1", version_text, flags=re.IGNORECASE))
    if version < Plan.STANDARD:
        return version, None
    parsed = sdk_parse(http.post("/general/get_servers", json=sdk_body(community, "GET_SERVERS", [])))
    parsed = json.loads(parsed) if isinstance(parsed, str) else parsed
    servers = parsed["servers"] if isinstance(parsed.get("servers"), list) else []
    return version, servers


@pytest.mark.parametrize("plan", [Plan.PRO, Plan.PLUS, Plan.STANDARD, Plan.STARTER])
def test_the_js_sdk_starts(server: Server, provision: Provisioner, community: Community, plan: Plan) -> None:
    set_community(provision, community, plan=plan)
    with server.client() as http:
        http.headers.update(SDK_HEADERS)
        version, servers = sdk_start(http, community)
    assert version == plan
    if plan >= Plan.STANDARD:
        assert servers is not None
        assert [(each["id"], each["name"]) for each in servers] == [(1, "Server 1"), (2, "Server 2")]
    else:
        assert servers is None


def test_the_in_game_resource_starts(server: Server, community: Community) -> None:
    with server.client() as http:
        version = http.post("/general/get_version", json=envelope(community, "GET_VERSION", []))
        assert version.status_code == 200
        api_version = int(version.text[:1])  # tonumber(string.sub(result, 1, 1))
        assert api_version == 4
        servers = http.post("/general/get_servers", json=envelope(community, "GET_SERVERS", []))
        assert servers.status_code == 200
        info = json.loads(servers.text)  # json.decode(response)
        assert [server["id"] for server in info["servers"] if str(server["id"]) == "2"] == [2]


def test_a_bad_key_fails_the_start_with_the_reference_string(server: Server, community: Community) -> None:
    with server.client() as http:
        body = sdk_body(community, "GET_VERSION", [])
        answer = http.post("/general/get_version", json={**body, "key": "od_wrong"})
    # The SDK throws APIError with this text; the resource disables its API on exactly these strings.
    assert (answer.status_code, answer.text) == (400, "INVALID API KEY")
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
