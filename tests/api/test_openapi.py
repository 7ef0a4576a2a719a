"""What /openapi.json says holds, item by item; tests/test_openapi_fuzz.py checks it all by fuzzing.

Each mismatch the issue's adversary found has its own test here: wrong methods on a literal path, the
``Allow`` of a 405, the documented answers, integer bounds, the metaData schema, the target rule, links.
"""

from __future__ import annotations

from typing import Any

import pytest

from opendispatch.calls.schemas import META_MAX_BYTES, META_MAX_KEY_LENGTH, META_MAX_KEYS
from opendispatch.schemas import MAX_ID
from tests.support import Community, Provisioner, Server, every_row_count, new_dispatch

SERVER = "/v2/emergency/servers/1"


def document(server: Server) -> dict[str, Any]:
    with server.client() as anonymous:
        answer = anonymous.get("/openapi.json")
    assert answer.status_code == 200
    found: dict[str, Any] = answer.json()
    return found


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in spec["paths"].items() for method, op in item.items()]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", SERVER + "/dispatch-calls/attachments", "DELETE"),
        ("PATCH", SERVER + "/dispatch-calls/close", "POST"),
        ("PATCH", SERVER + "/blips/delete", "POST"),
        ("DELETE", SERVER + "/pager-config", "GET, PUT"),
        ("GET", SERVER + "/calls/911", "POST"),
    ],
)
def test_a_method_a_path_does_not_take_is_a_405_naming_every_method_it_does(
    server: Server, provision: Provisioner, community: Community, method: str, path: str, allow: str
) -> None:
    before = every_row_count(provision)
    with server.client(community.api_key) as http:
        answer = http.request(method, path, json={"callId": 1, "postal": "1"})
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == f"{path} does not take {method}; it takes {allow}."
    assert every_row_count(provision) == before


def test_the_routes_with_an_id_where_a_literal_route_stands_still_serve_ids(
    server: Server, community: Community
) -> None:
    with server.client(community.api_key) as http:
        call_id = http.post(SERVER + "/dispatch-calls", json=new_dispatch()).json()["callId"]
        changed = http.patch(f"{SERVER}/dispatch-calls/{call_id}", json={"title": "Pursuit"})
        bad = http.patch(SERVER + "/dispatch-calls/closed", json={"title": "Pursuit"})
        listed = http.get(SERVER + "/calls").json()
    assert changed.status_code == 200, changed.text
    assert [call["title"] for call in listed["activeCalls"]] == ["Pursuit"]
    assert bad.status_code == 400
    assert [error["field"] for error in bad.json()["errors"]] == ["callId"]


def test_every_answer_a_keyed_operation_can_give_is_documented_and_never_422(server: Server) -> None:
    spec = document(server)
    keyed = [(m, p, op) for m, p, op in operations(spec) if op.get("security")]
    assert len(keyed) >= 50
    for method, path, op in keyed:
        responses = op["responses"]
        expected = {"200", "400", "401", "403", "404", "429", "503"}
        expected |= {"409"} if method != "get" else set()
        expected |= {"413"} if "requestBody" in op else set()
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected - {"200", "429"}:
            content = responses[status]["content"]
            assert content == {
                "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
        assert "Retry-After" in responses["429"]["headers"]
    assert all("422" not in op["responses"] for _m, _p, op in operations(spec))
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def _integer_bounds(node: Any) -> list[Any]:
    found = []
    if isinstance(node, dict):
        if node.get("type") == "integer":
            found += [
                node[k] for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") if k in node
            ]
        for value in node.values():
            found += _integer_bounds(value)
    elif isinstance(node, list):
        for value in node:
            found += _integer_bounds(value)
    return found


def test_integer_bounds_are_whole_numbers_within_64_bits(server: Server) -> None:
    bounds = _integer_bounds(document(server))
    assert MAX_ID in bounds  # ids: FastAPI's float had made it 2**63
    assert all(type(bound) is int and -MAX_ID <= bound <= MAX_ID for bound in bounds), bounds


def test_metadata_is_documented_as_the_server_takes_it(server: Server) -> None:
    schemas = document(server)["components"]["schemas"]
    for model in ("NewEmergencyCall", "NewDispatchCall", "DispatchCallChanges", "NewCustomDispatchCall"):
        forms = schemas[model]["properties"]["metaData"]["anyOf"]
        object_form = next(form for form in forms if form.get("type") == "object")
        assert object_form["maxProperties"] == META_MAX_KEYS
        assert object_form["propertyNames"] == {"minLength": 1, "maxLength": META_MAX_KEY_LENGTH}
        assert {"type": "boolean"} in object_form["additionalProperties"]["anyOf"]
        assert str(META_MAX_BYTES) in object_form["description"]
        assert {"items": {}, "maxItems": 0, "type": "array"} in forms  # Lua's empty table


def test_the_target_rule_is_in_the_schema(server: Server) -> None:
    schemas = document(server)["components"]["schemas"]
    for model in ("Targets", "UnitStatusChange", "UnitPanicChange", "KickOrder", "NewCustomDispatchCall"):
        named = {name for form in schemas[model]["anyOf"] for name in form["required"]}
        assert {"communityUserIds", "accounts", "identIds", "groupName"} <= named, model
    assert "anyOf" not in schemas["LocationUpdate"]  # a report naming no unit is skipped, not refused
    present = {name for form in schemas["NewDispatchCall"]["anyOf"] for name in form["required"]}
    assert {"communityUserIds", "accounts"} <= present


def test_each_link_names_an_operation_and_its_parameters(server: Server) -> None:
    spec = document(server)
    by_id = {op["operationId"]: op for _m, _p, op in operations(spec)}
    links = {
        (path, name): link
        for _m, path, op in operations(spec)
        for name, link in op["responses"]["200"].get("links", {}).items()
    }
    assert len(links) >= 20
    for where, link in links.items():
        target = by_id[link["operationId"]]
        names = {parameter["name"] for parameter in target.get("parameters", [])}
        assert set(link["parameters"]) <= names, where
    create_911 = spec["paths"][SERVER.replace("1", "{serverId}") + "/calls/911"]["post"]
    assert {"RemoveCall", "GetCalls"} <= set(create_911["responses"]["200"]["links"])


def test_the_rules_naming_one_field_among_several_are_in_the_schema(server: Server) -> None:
    schemas = document(server)["components"]["schemas"]
    one_account = {name for form in schemas["ApiIdsChange"]["oneOf"] for name in form["required"]}
    assert one_account == {"username", "accountUuid", "communityUserId", "discord", "roblox"}
    some_change = {name for form in schemas["BlipChanges"]["anyOf"] for name in form["required"]}
    assert {"coordinates", "tooltip", "radius", "data"} <= some_change
