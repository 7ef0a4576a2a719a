"""Every target kind on every operation that takes targets, each effect checked through a second read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import Community, Provisioner, Server
from tests.units.support import (
    LICENSE,
    S1,
    Crew,
    active_calls,
    dispatch_body,
    make_crew,
    open_call,
    set_group,
    units_of,
)

# Each names Ann's unit on server 1, one target kind at a time (roblox as the number the docs type it).
KINDS: dict[str, Callable[[Crew], dict[str, Any]]] = {
    "communityUserId": lambda c: {"communityUserId": LICENSE},
    "communityUserIds": lambda c: {"communityUserIds": [LICENSE]},
    "units": lambda c: {"units": [LICENSE]},
    "apiId": lambda c: {"apiId": "steam:ann"},
    "apiIds": lambda c: {"apiIds": ["steam:ann"]},
    "accountUuid": lambda c: {"accountUuid": c.uuids["ann"]},
    "accounts": lambda c: {"accounts": [c.uuids["ann"]]},
    "discord": lambda c: {"discord": "111222333"},
    "roblox": lambda c: {"roblox": 4455},
    "groupName": lambda c: {"groupName": "CAR-51"},
    "identIds": lambda c: {"identIds": [c.units["ann"]]},
}
# Other spellings of the same targets, tried on one operation each.
VARIANTS: dict[str, Callable[[Crew], dict[str, Any]]] = {
    "apiId as the linked id": lambda c: {"apiId": LICENSE},
    "discord as a number": lambda c: {"discord": 111222333},
    "a bare identId": lambda c: {"identIds": c.units["ann"]},
    "a bare communityUserIds": lambda c: {"communityUserIds": LICENSE},
    "Lua's empty tables beside": lambda c: {"communityUserIds": [], "accounts": {}, "units": [LICENSE]},
    "an empty id beside": lambda c: {"communityUserId": "", "units": ["", LICENSE]},
}


def status(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    answer = http.patch(f"{S1}/units/status", json={**target, "status": 3})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"updated": 1, "status": "ENROUTE", "identIds": [crew.units["ann"]]}
    listed = units_of(http)
    assert listed[crew.units["ann"]]["status"] == 3 and listed[crew.units["bob"]]["status"] == 0


def panic(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    answer = http.patch(f"{S1}/units/panic", json={**target, "isPanic": True})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"updated": 1, "isPanic": True, "identIds": [crew.units["ann"]]}
    listed = units_of(http)
    assert listed[crew.units["ann"]]["isPanic"] is True and listed[crew.units["bob"]]["isPanic"] is False


def locations(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    update = {**target, "location": "Mission Row", "x": 441.2, "y": -981.9, "z": 30.7, "heading": 90}
    answer = http.patch(f"{S1}/unit-locations", json={"updates": [update]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"updated": 1, "identIds": [crew.units["ann"]]}
    unit = units_of(http)[crew.units["ann"]]
    assert unit["location"] == "Mission Row"
    assert unit["coordinates"] == {"x": 441.2, "y": -981.9, "z": 30.7, "w": 90.0}
    assert units_of(http)[crew.units["bob"]]["location"] == ""


def attach(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    call_id = open_call(http)
    answer = http.post(f"{S1}/dispatch-calls/{call_id}/attachments", json=target)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"callId": call_id, "identIds": [crew.units["ann"]]}
    assert [call["idents"] for call in active_calls(http)] == [[crew.units["ann"]]]


def detach(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    call_id = open_call(http, accounts=[crew.uuids["ann"], crew.uuids["bob"]])
    # The in-game resource's detach: a DELETE with a JSON body that carries the callId.
    answer = http.request("DELETE", f"{S1}/dispatch-calls/attachments", json={**target, "callId": call_id})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"identIds": [crew.units["ann"]]}
    assert [call["idents"] for call in active_calls(http)] == [[crew.units["bob"]]]


def kick(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    open_call(http, accounts=[crew.uuids["ann"], crew.uuids["bob"]])
    http.patch(f"{S1}/units/panic", json={"identIds": [crew.units["ann"]], "isPanic": True})
    answer = http.post(f"{S1}/units/kick", json={**target, "reason": "Left the server"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"identId": crew.units["ann"], "reason": "Left the server"}
    unit = units_of(http)[crew.units["ann"]]
    assert unit["status"] == 100 and unit["isPanic"] is False
    assert [call["idents"] for call in active_calls(http)] == [[crew.units["bob"]]]
    # OFFLINE units leave the default listing.
    assert [found["id"] for found in http.get(f"{S1}/units").json()] == [crew.units["bob"]]


def group(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    answer = http.put(f"{S1}/identifier-groups/SUPERVISOR-1", json=target)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "identIds": [crew.units["ann"]]}
    listed = units_of(http)
    assert listed[crew.units["ann"]]["data"]["group"] == "SUPERVISOR-1"
    assert listed[crew.units["bob"]]["data"]["group"] == ""


def create_dispatch(http: httpx.Client, crew: Crew, target: dict[str, Any]) -> None:
    answer = http.post(f"{S1}/dispatch-calls", json=dispatch_body(**target))
    assert answer.status_code == 200, answer.text
    assert answer.json()["idents"] == [crew.units["ann"]] and answer.json()["primary"] == crew.units["ann"]
    assert [call["idents"] for call in active_calls(http)] == [[crew.units["ann"]]]


OPERATIONS: dict[str, Callable[[httpx.Client, Crew, dict[str, Any]], None]] = {
    "status": status,
    "panic": panic,
    "unit locations": locations,
    "attach": attach,
    "detach": detach,
    "kick": kick,
    "identifier group": group,
    "dispatch-call create": create_dispatch,
}
# Create Dispatch Call takes the docs' account targets, not groups or identifier ids.
NOT_ON_CREATE = {"groupName", "identIds"}
CASES = [
    (operation, kind)
    for operation in OPERATIONS
    for kind in KINDS
    if not (operation == "dispatch-call create" and kind in NOT_ON_CREATE)
] + [(operation, variant) for variant, operation in zip(VARIANTS, [*OPERATIONS] * 2, strict=False)]


@pytest.mark.parametrize(("operation", "kind"), CASES)
def test_every_target_kind_names_the_same_unit_on_every_operation(
    server: Server, provision: Provisioner, community: Community, operation: str, kind: str
) -> None:
    crew = make_crew(provision, community)
    set_group(provision, crew.units["ann"], "CAR-51")
    with server.client(community.api_key) as http:
        OPERATIONS[operation](http, crew, {**KINDS, **VARIANTS}[kind](crew))


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("PATCH", "/units/status", {"status": 2}),
        ("PATCH", "/units/panic", {"isPanic": True}),
        ("POST", "/units/kick", {"reason": "x"}),
        ("DELETE", "/units/kick", {"reason": "x"}),
        ("PUT", "/identifier-groups/G", {}),
        ("POST", "/dispatch-calls/{call}/attachments", {}),
        ("DELETE", "/dispatch-calls/attachments", {}),
    ],
)
def test_a_target_known_only_on_another_server_or_to_nobody_is_a_404_and_changes_nothing(
    server: Server,
    provision: Provisioner,
    community: Community,
    method: str,
    path: str,
    extra: dict[str, Any],
) -> None:
    crew = make_crew(provision, community)
    with server.client(community.api_key) as http:
        call_id = open_call(http)
        before = units_of(http)
        for target in (
            {"communityUserId": "license:cid"},  # Cid's unit is on server 2 only
            {"identIds": [crew.units["cid"]]},
            {"discord": "999"},
            {"roblox": 1},
            {"apiIds": ["steam:nobody"]},
            {"groupName": "NO-SUCH-GROUP"},
        ):
            url = S1 + path.replace("{call}", str(call_id))
            answer = http.request(method, url, json={**target, **extra})
            assert answer.status_code == 404, (target, answer.text)
        assert units_of(http) == before
        assert [call["idents"] for call in active_calls(http)] == [[]]


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("PATCH", "/units/status", {"status": 2}),
        ("PATCH", "/units/panic", {"isPanic": True}),
        ("POST", "/units/kick", {"reason": "x"}),
        ("PUT", "/identifier-groups/G", {}),
        ("POST", "/dispatch-calls/{call}/attachments", {}),
        ("DELETE", "/dispatch-calls/attachments", {}),
    ],
)
def test_another_communitys_units_accounts_and_ids_are_404(
    server: Server, provision: Provisioner, method: str, path: str, extra: dict[str, Any]
) -> None:
    owner = provision.community("Owner", servers=2)
    intruder = provision.community("Intruder", servers=2)
    crew = make_crew(provision, owner)
    make_crew(provision, intruder)  # the intruder's own Ann: the same ids do not reach the owner's
    with server.client(owner.api_key) as http:
        before = units_of(http)
    with server.client(intruder.api_key) as http:
        call_id = open_call(http)
        url = S1 + path.replace("{call}", str(call_id))
        for target in (
            {"identIds": [crew.units["ann"], crew.units["bob"]]},
            {"accountUuid": crew.uuids["ann"]},
            {"accounts": [crew.uuids["bob"]]},
        ):
            answer = http.request(method, url, json={**target, **extra})
            assert answer.status_code == 404, (target, answer.text)
        other = http.get(f"/v2/emergency/servers/1/accounts/{crew.uuids['ann']}/units")
        assert other.status_code == 404
    with server.client(owner.api_key) as http:
        assert units_of(http) == before


def test_a_request_that_names_no_unit_is_a_400_naming_the_targets(
    server: Server, provision: Provisioner, community: Community
) -> None:
    make_crew(provision, community)
    with server.client(community.api_key) as http:
        for body in ({"status": 2}, {"status": 2, "communityUserIds": [], "units": {}, "discord": []}):
            answer = http.patch(f"{S1}/units/status", json=body)
            assert answer.status_code == 400 and "communityUserIds" in answer.text, answer.text
        assert http.post(f"{S1}/units/kick", json={"reason": "x"}).status_code == 400
