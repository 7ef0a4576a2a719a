"""The admin's Units section and a member's own page over HTTP."""

from __future__ import annotations

from typing import Any

from tests.admin.support import ME, UNITS, actions, audit, member
from tests.support import Community, Provisioner, Server, every_row_count, new_dispatch
from tests.web.support import C1, S1, Console, admin, dispatcher


def units_of(console: Console) -> dict[int, dict[str, Any]]:
    answer = console.get(UNITS)
    assert answer.status_code == 200, answer.text
    return {unit["identId"]: unit for unit in answer.json()["units"]}


def test_an_admin_edits_and_selects_any_members_unit_and_each_change_is_audited(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    bob = member(provision, community, "bob", "license:bob")
    ann = member(provision, community, "ann")
    first = provision.unit(community, bob["uuid"], unit_num="1A-01")
    second = provision.unit(community, ann["uuid"], server_id=2, unit_num="2B-02")
    boss = Console(server, community, "root")
    listed = units_of(boss)
    assert sorted(listed) == [first, second]
    assert (listed[first]["username"], listed[first]["selectedOn"]) == ("bob", [1])
    assert (listed[second]["username"], listed[second]["selectedOn"]) == ("ann", [2])

    fields = {
        "unitNum": "1A-09",
        "name": "Bob Vance",
        "department": "LSPD",
        "district": "Mission Row",
        "subdivision": "Patrol",
        "rank": "Officer",
        "group": "CAR-1",
    }
    changed = boss.patch(f"{UNITS}/{first}", fields)
    assert changed.status_code == 200, changed.text
    assert {name: changed.json()[name] for name in fields} == fields
    assert {name: units_of(boss)[first][name] for name in fields} == fields
    with server.client(community.api_key) as api:  # the v2 API sees the same unit
        (unit,) = api.get(f"{S1}/units", params={"includeOffline": True}).json()
        assert (unit["data"]["unitNum"], unit["data"]["rank"], unit["data"]["group"]) == (
            "1A-09",
            "Officer",
            "CAR-1",
        )
    chosen = boss.http.put(f"{UNITS}/{first}/selected", json={"serverId": 2})
    assert chosen.status_code == 200 and chosen.json()["selectedOn"] == [1, 2]

    entries = audit(boss)
    assert [(e["action"], e["target"]) for e in entries] == [
        ("unit.change", f"unit {first} of bob"),
        ("unit.select", f"unit {first} of bob"),
    ]
    assert entries[0]["detail"]["unitNum"] == {"before": "1A-01", "after": "1A-09"}
    assert entries[1]["detail"] == {"serverId": 2}

    before = every_row_count(provision)
    for method, path, body, status in (
        ("PATCH", f"{UNITS}/{first}", {"unitNum": "x" * 33}, 400),
        ("PATCH", f"{UNITS}/{first}", {"name": 5}, 400),
        ("PATCH", f"{UNITS}/{first}", [], 400),
        ("PUT", f"{UNITS}/{first}/selected", {"serverId": "two"}, 400),
        ("PUT", f"{UNITS}/{first}/selected", {"serverId": 9}, 404),
        ("PATCH", f"{UNITS}/99999", {"name": "Nobody"}, 404),
    ):
        answer = boss.http.request(method, path, json=body)
        assert answer.status_code == status, (method, path, body, answer.text)
    assert every_row_count(provision) == before
    assert units_of(boss)[first]["selectedOn"] == [1, 2]
    assert actions(boss) == ["unit.change", "unit.select"]
    boss.close()


def test_a_member_keeps_their_own_units_and_sees_the_call_their_unit_is_on(
    server: Server, provision: Provisioner, community: Community
) -> None:
    member(provision, community, "bob", "license:bob")
    ann = member(provision, community, "ann")
    anns = provision.unit(community, ann["uuid"])
    bobs = Console(server, community, "bob")
    page = bobs.get(ME).json()
    assert (page["username"], page["roles"], page["identifiers"], page["currentCall"]) == (
        "bob",
        ["member"],
        [],
        None,
    )
    assert [server["id"] for server in page["servers"]] == [1, 2]

    made = bobs.post(ME + "/identifiers", {"unitNum": "1A-22", "name": "Bob", "department": "LSPD"})
    assert made.status_code == 200, made.text
    (unit,) = made.json()["identifiers"]
    ident = unit["identId"]
    assert (unit["unitNum"], unit["department"], unit["rank"]) == ("1A-22", "LSPD", "NOT SET")
    edited = bobs.patch(f"{ME}/identifiers/{ident}", {"rank": "Sergeant"}).json()
    assert edited["identifiers"][0]["rank"] == "Sergeant" and edited["identifiers"][0]["name"] == "Bob"
    selected = bobs.http.put(ME + "/selected-identifier", json={"identId": ident, "serverId": 1})
    assert selected.status_code == 200 and selected.json()["selected"] == {"1": ident}

    # A dispatch call for bob's in-game id reaches his selected unit; his page shows it.
    with server.client(community.api_key) as api:
        call = api.post(f"{S1}/dispatch-calls", json=new_dispatch(communityUserIds=["license:bob"])).json()
        assert call["idents"] == [ident]
    current = bobs.get(ME).json()["currentCall"]
    assert (current["serverId"], current["identId"], current["call"]["callId"]) == (1, ident, call["callId"])
    assert current["call"]["title"] == "Armed Robbery"
    assert bobs.delete(f"{ME}/identifiers/{ident}").status_code == 409  # it is on a call

    # Another account's unit is not theirs to touch; bad bodies change nothing.
    before = every_row_count(provision)
    for method, path, body, status in (
        ("PATCH", f"{ME}/identifiers/{anns}", {"name": "Mine"}, 404),
        ("DELETE", f"{ME}/identifiers/{anns}", None, 404),
        ("PUT", ME + "/selected-identifier", {"identId": anns, "serverId": 1}, 404),
        ("PUT", ME + "/selected-identifier", {"identId": ident, "serverId": 7}, 404),
        ("PUT", ME + "/selected-identifier", {"serverId": 1}, 400),
        ("POST", ME + "/identifiers", {"unitNum": "x" * 33}, 400),
        ("POST", ME + "/identifiers", {"group": ["A"]}, 400),
    ):
        answer = bobs.http.request(method, path, json=body)
        assert answer.status_code == status, (method, path, answer.text)
    assert every_row_count(provision) == before

    spare = bobs.post(ME + "/identifiers", {}).json()["identifiers"][-1]
    assert (spare["unitNum"], spare["name"]) == ("NEW UNIT", "NO NAME")
    left = bobs.delete(f"{ME}/identifiers/{spare['identId']}").json()
    assert [one["identId"] for one in left["identifiers"]] == [ident]
    bobs.close()


def test_a_member_gets_403_from_the_dispatcher_console_and_its_v2_calls(
    server: Server, provision: Provisioner, community: Community
) -> None:
    member(provision, community, "bob", "license:bob")
    dispatcher(provision, community, "alice")
    with server.client(community.api_key) as api:
        call = api.post(f"{S1}/dispatch-calls", json=new_dispatch()).json()
    bobs = Console(server, community, "bob")
    assert bobs.session["roles"] == ["member"]
    before = every_row_count(provision)
    for method, path, body in (
        ("GET", f"{C1}/board", None),
        ("GET", f"{C1}/calls/{call['callId']}", None),
        ("POST", f"{C1}/dispatch-calls", new_dispatch()),
        ("GET", "/console/api/postals/9001", None),
        (
            "POST",
            f"{S1}/calls/911",
            {"isEmergency": True, "caller": "x", "location": "y", "description": "z"},
        ),
        ("POST", f"{S1}/dispatch-calls/close", {"callIds": [call["callId"]]}),
        ("PATCH", f"{S1}/units/status", {"identIds": [1], "status": 2}),
        ("GET", f"{S1}/dispatch-calls/{call['callId']}/nearest-units", None),
    ):
        answer = bobs.http.request(method, path, json=body)
        assert answer.status_code == 403, (method, path, answer.text)
        assert "dispatcher role" in answer.text
    assert every_row_count(provision) == before
    # Their own page, their session and logging out are theirs.
    assert bobs.get("/console/api/session").status_code == 200
    assert bobs.get(ME).status_code == 200
    assert bobs.post("/console/api/logout").status_code == 204
    assert bobs.get(ME).status_code == 401
    bobs.close()
    alice = Console(server, community, "alice")  # a dispatcher still works the board
    assert alice.get(f"{C1}/board").status_code == 200
    assert alice.post(f"{S1}/dispatch-calls/close", {"callIds": [call["callId"]]}).status_code == 200
    alice.close()
