"""Inputs a review found reaching the database or a render loop: each must be a clear 4xx, never a 500."""

from __future__ import annotations

from tests.support import Community, Provisioner, Server

S1 = "/v2/emergency/servers/1"
HUGE = 10**23


def test_a_call_far_off_any_map_has_no_snapshot(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        call = http.post(
            f"{S1}/calls/911",
            json={
                "isEmergency": True,
                "caller": "c",
                "location": "l",
                "description": "d",
                "metaData": {"x": "1e300", "y": "1"},
            },
        ).json()
        # It used to spin a thread forever drawing grid lines that a float step no longer moved.
        answer = http.get(f"{S1}/calls/{call['callId']}/snapshot.png", timeout=10)
    assert answer.status_code == 409


def test_unit_coordinates_must_be_finite_numbers_on_a_map(
    server: Server, community: Community, provision: Provisioner
) -> None:
    account = provision.account(community, "u", "license:u")
    provision.unit(community, account["uuid"])
    with server.client(community.api_key) as http:
        for bad in (b"NaN", b"Infinity", b"1e300"):
            body = b'{"updates": [{"communityUserId": "license:u", "coordinates": {"x": 1, "y": %s}}]}' % bad
            answer = http.patch(
                f"{S1}/unit-locations", content=body, headers={"content-type": "application/json"}
            )
            assert answer.status_code == 400, (bad, answer.text)
        listed = http.get(f"{S1}/units", params={"includeOffline": "true"})
    assert listed.status_code == 200 and listed.json()[0]["coordinates"] is None


def test_metadata_with_a_lone_surrogate_is_refused(server: Server, community: Community) -> None:
    body = (
        b'{"isEmergency": true, "caller": "c", "location": "l", "description": "d", '
        b'"metaData": {"\\ud800": "x"}}'
    )
    with server.client(community.api_key) as http:
        answer = http.post(f"{S1}/calls/911", content=body, headers={"content-type": "application/json"})
        listing = http.get(f"{S1}/calls").json()
    assert answer.status_code == 400 and "metaData" in answer.json()["detail"]
    assert listing["emergencyCalls"] == []


def test_numbers_beyond_64_bits_are_400s(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        assert http.get(f"{S1}/units", params={"offset": HUGE}).status_code == 400
        assert http.get(f"{S1}/events", headers={"Last-Event-ID": str(HUGE)}).status_code == 400
        assert http.put("/v2/general/servers", json={"servers": [{"id": HUGE}]}).status_code == 400


def test_a_push_url_that_does_not_parse_is_a_400(server: Server, community: Community) -> None:
    with server.client(community.api_key) as http:
        answer = http.put("/v2/general/servers", json={"servers": [{"id": 1, "pushUrl": "http://[::1"}]})
        assert answer.status_code == 400 and "pushUrl" in answer.text
        assert http.get("/v2/general/servers").json()["servers"][0]["pushUrl"] is None


def test_v1_note_time_out_of_range_is_stamped_by_the_server(server: Server, community: Community) -> None:
    with server.client() as http:
        answer = http.post(
            "/emergency/new_dispatch",
            json={
                "id": community.community_id,
                "key": community.api_key,
                "type": "NEW_DISPATCH",
                "data": [
                    {
                        "serverId": 1,
                        "origin": 0,
                        "status": 1,
                        "priority": 1,
                        "block": "1",
                        "address": "a",
                        "postal": "1",
                        "title": "t",
                        "code": "c",
                        "description": "d",
                        "notes": [
                            {
                                "label": "l",
                                "type": "text",
                                "content": "n",
                                "time": "9999-12-31T23:59:59-05:00",
                            }
                        ],
                        "units": [],
                    }
                ],
            },
        )
    assert answer.status_code == 200, answer.text
    assert answer.text.startswith("NEW DISPATCH CREATED - ID: ")


def test_an_ident_id_names_only_a_unit_selected_on_that_server(
    server: Server, provision: Provisioner
) -> None:
    community = provision.community("Two servers", servers=2)
    account = provision.account(community, "u", "license:u")
    on_two = provision.unit(community, account["uuid"], server_id=2)
    with server.client(community.api_key) as http:
        call = http.post(
            f"{S1}/dispatch-calls",
            json={
                "origin": 0,
                "status": 1,
                "priority": 1,
                "block": "1",
                "address": "a",
                "postal": "1",
                "title": "t",
                "code": "c",
                "description": "d",
                "notes": [],
                "accounts": [],
            },
        ).json()
        answer = http.post(f"{S1}/dispatch-calls/{call['callId']}/attachments", json={"identIds": [on_two]})
        status = http.patch(f"{S1}/units/status", json={"identIds": [on_two], "status": 2})
    assert answer.status_code == 404 and status.status_code == 404
