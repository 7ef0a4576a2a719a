"""General accounts over HTTP: Get Account(s), API ids, Verify Secret and in-game link codes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from opendispatch.accounts.schemas import PERMISSIONS
from opendispatch.events.models import events
from opendispatch.units import service as units
from tests.support import Community, ManualClock, Provisioner, Server, every_row_count, lift_every_limit
from tests.web.support import Console, dispatcher


def member(provision: Provisioner, community: Community, username: str, **ids: str | None) -> dict[str, str]:
    """An account made as `account create` does, with any of communityUserId, discord and roblox."""
    with provision.db.transaction() as conn:
        created = units.create_account(
            conn,
            community_id=community.community_id,
            username=username,
            now=provision.now(),
            community_user_id=ids.get("community_user_id"),
            discord=ids.get("discord"),
            roblox=ids.get("roblox"),
        )
    return {"uuid": created.account_uuid, "secret": created.secret_uuid}


@pytest.fixture
def other(provision: Provisioner) -> Community:
    return provision.community("Bravo", servers=1)


def test_get_accounts_pages_by_username_with_the_docs_account_object(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    alice = member(provision, community, "Alice", community_user_id="lic-a", discord="111", roblox="222")
    for name in ("bob", "carol", "dave"):
        member(provision, community, name)
    with server.client(community.api_key) as http:
        page = http.get("/v2/general/accounts", params={"limit": 2, "offset": 1})
        assert page.status_code == 200, page.text
        assert page.json()["pagination"] == {"limit": 2, "offset": 1, "total": 4}
        assert [one["username"] for one in page.json()["accounts"]] == ["bob", "carol"]

        found = http.get("/v2/general/accounts", params={"username": "ALI"}).json()
        assert found["pagination"]["total"] == 1
        [account] = found["accounts"]
        assert set(account) == {
            "uuid", "username", "communityUserId", "status", "joined", "lastLogin", "permissions",
            "discord", "roblox",
        }  # fmt: skip
        assert account["uuid"] == alice["uuid"] and account["communityUserId"] == "lic-a"
        assert (account["status"], account["discord"], account["roblox"]) == (1, "111", "222")
        assert account["joined"].endswith("Z") and account["lastLogin"] is None
        assert set(account["permissions"]) == set(PERMISSIONS)
        assert account["permissions"]["dispatch"] is False

        # Only VALIDATED accounts exist here: another status is an empty page, not an error.
        banned = http.get("/v2/general/accounts", params={"status": 4}).json()
        assert banned == {"pagination": {"limit": 100, "offset": 0, "total": 0}, "accounts": []}
        # A username filter is text, not a pattern.
        assert http.get("/v2/general/accounts", params={"username": "%"}).json()["accounts"] == []


@pytest.mark.parametrize(
    "query",
    [
        {"communityUserId": "lic-a"},
        {"discord": "111"},
        {"roblox": "222"},
        {"username": "Alice"},
        {"communityUserId": "steam:1100001"},  # an older API id names the account too
    ],
)
def test_get_account_finds_one_account_by_any_one_identifier(
    server: Server, provision: Provisioner, community: Community, query: dict[str, str]
) -> None:
    lift_every_limit(provision, community)
    alice = member(provision, community, "Alice", community_user_id="lic-a", discord="111", roblox="222")
    member(provision, community, "bob", community_user_id="lic-b")
    with server.client(community.api_key) as http:
        put = http.put("/v2/general/api-ids", json={"username": "Alice", "apiIds": ["steam:1100001"]})
        assert put.status_code == 200, put.text
        answer = http.get("/v2/general/accounts/account", params=query)
        assert answer.status_code == 200, answer.text
        assert answer.json()["uuid"] == alice["uuid"]
        by_uuid = http.get("/v2/general/accounts/account", params={"accountUuid": alice["uuid"]})
        assert by_uuid.json() == answer.json()


def test_get_account_needs_exactly_one_identifier_and_404s_what_is_not_here(
    server: Server, provision: Provisioner, community: Community, other: Community
) -> None:
    lift_every_limit(provision, community)
    member(provision, community, "Alice", community_user_id="lic-a")
    stranger = member(provision, other, "Zed", community_user_id="lic-z", discord="999")
    with server.client(community.api_key) as http:
        for query in ({}, {"username": "Alice", "discord": "1"}):
            answer = http.get("/v2/general/accounts/account", params=query)
            assert answer.status_code == 400 and "exactly one" in answer.text
        for query in (
            {"accountUuid": stranger["uuid"]},
            {"communityUserId": "lic-z"},
            {"discord": "999"},
            {"username": "Zed"},
        ):
            assert http.get("/v2/general/accounts/account", params=query).status_code == 404
        assert http.get("/v2/general/accounts", params={"limit": 0}).status_code == 400
        assert http.get("/v2/general/accounts", params={"limit": 101}).status_code == 400
        listed = http.get("/v2/general/accounts").json()["accounts"]
        assert [one["username"] for one in listed] == ["Alice"]


def test_last_login_and_the_dispatch_permission_come_from_the_console(
    server: Server, provision: Provisioner, community: Community
) -> None:
    alice = dispatcher(provision, community)
    Console(server, community)
    with server.client(community.api_key) as http:
        account = http.get("/v2/general/accounts/account", params={"accountUuid": alice["uuid"]}).json()
    assert account["permissions"]["dispatch"] is True
    assert account["lastLogin"] is not None and account["lastLogin"].endswith("Z")


def test_api_ids_are_set_replaced_added_and_looked_up(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    alice = member(provision, community, "alice", community_user_id="lic-a")
    with server.client(community.api_key) as http:
        assert http.get("/v2/general/api-ids/steam:1").status_code == 404
        # The SDKs' body: username, apiIds, pushNew (sessionId is the hosted product's and is ignored).
        set_ = http.put(
            "/v2/general/api-ids",
            json={
                "username": "alice",
                "apiIds": ["steam:1", "license:2"],
                "pushNew": False,
                "sessionId": "s",
            },
        )
        assert set_.status_code == 200, set_.text
        assert set_.json() == {"accountUuid": alice["uuid"], "apiIds": ["license:2", "steam:1"]}
        holder = http.get("/v2/general/api-ids/steam:1")
        assert holder.json() == {
            "apiId": "steam:1",
            "accountUuid": alice["uuid"],
            "username": "alice",
            "communityUserId": "lic-a",
        }
        added = http.put(
            "/v2/general/api-ids", json={"accountUuid": alice["uuid"], "apiIds": ["xbl:3"], "pushNew": True}
        )
        assert added.json()["apiIds"] == ["license:2", "steam:1", "xbl:3"]
        replaced = http.put("/v2/general/api-ids", json={"communityUserId": "lic-a", "apiIds": ["xbl:3"]})
        assert replaced.json()["apiIds"] == ["xbl:3"]
        assert http.get("/v2/general/api-ids/steam:1").status_code == 404
        assert http.get("/v2/general/api-ids/xbl%3A3").json()["accountUuid"] == alice["uuid"]
        # An empty Lua table clears them.
        assert (
            http.put("/v2/general/api-ids", json={"username": "alice", "apiIds": {}}).json()["apiIds"] == []
        )


def test_an_api_id_another_account_holds_is_a_conflict_and_changes_nothing(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    member(provision, community, "alice")
    member(provision, community, "bob")
    with server.client(community.api_key) as http:
        assert (
            http.put("/v2/general/api-ids", json={"username": "alice", "apiIds": ["steam:1"]}).status_code
            == 200
        )
        taken = http.put("/v2/general/api-ids", json={"username": "bob", "apiIds": ["license:9", "steam:1"]})
        assert taken.status_code == 409
        assert http.get("/v2/general/api-ids/license:9").status_code == 404
        assert http.get("/v2/general/api-ids/steam:1").json()["username"] == "alice"


def test_an_api_id_that_is_another_accounts_linked_id_is_a_conflict_so_one_id_names_one_account(
    server: Server, provision: Provisioner, community: Community
) -> None:
    lift_every_limit(provision, community)
    provision.account(community, "alice", "license:alice")
    member(provision, community, "bob")
    with server.client(community.api_key) as http:
        taken = http.put("/v2/general/api-ids", json={"username": "bob", "apiIds": ["license:alice"]})
        assert taken.status_code == 409, taken.text
        # The id names alice, here as in targets and Get Account.
        assert http.get("/v2/general/api-ids/license:alice").json()["username"] == "alice"
        by_lookup = http.get("/v2/general/accounts/account", params={"communityUserId": "license:alice"})
        assert by_lookup.json()["username"] == "alice"


BAD_API_ID_BODIES: list[tuple[Any, str]] = [
    ({"apiIds": ["steam:1"]}, "exactly one"),
    ({"username": "alice", "accountUuid": "x", "apiIds": []}, "exactly one"),
    ({"username": "alice"}, "apiIds"),
    ({"username": "alice", "apiIds": "steam:1"}, "apiIds"),
    ({"username": "alice", "apiIds": [""]}, "apiIds"),
    ({"username": "alice", "apiIds": ["x" * 256]}, "apiIds"),
    ({"username": "alice", "apiIds": [f"id:{n}" for n in range(21)]}, "apiIds"),
    ({"username": "alice", "apiIds": [], "pushNew": "yes"}, "pushNew"),
    ({"username": 5, "apiIds": []}, "username"),
]


@pytest.mark.parametrize(("body", "named"), BAD_API_ID_BODIES)
def test_bad_api_id_bodies_are_400s_naming_the_field_and_change_nothing(
    server: Server, provision: Provisioner, community: Community, body: Any, named: str
) -> None:
    lift_every_limit(provision, community)
    member(provision, community, "alice")
    before = every_row_count(provision)
    with server.client(community.api_key) as http:
        answer = http.put("/v2/general/api-ids", json=body)
    assert answer.status_code == 400, answer.text
    assert named in answer.text
    assert every_row_count(provision) == before


def test_api_ids_of_another_community_are_404(
    server: Server, provision: Provisioner, community: Community, other: Community
) -> None:
    member(provision, other, "zed")
    with server.client(other.api_key) as http:
        assert (
            http.put("/v2/general/api-ids", json={"username": "zed", "apiIds": ["steam:7"]}).status_code
            == 200
        )
    member(provision, community, "alice")
    with server.client(community.api_key) as http:
        assert http.get("/v2/general/api-ids/steam:7").status_code == 404
        assert (
            http.put("/v2/general/api-ids", json={"username": "zed", "apiIds": ["steam:8"]}).status_code
            == 404
        )


def test_verify_secret_answers_the_account_of_the_secret_in_this_community_only(
    server: Server, provision: Provisioner, community: Community, other: Community
) -> None:
    alice = member(provision, community, "alice")
    stranger = member(provision, other, "zed")
    with server.client(community.api_key) as http:
        answer = http.post("/v2/general/secrets/verify", json={"secret": alice["secret"]})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {alice["secret"]: alice["uuid"]}
        assert http.post("/v2/general/secrets/verify", json={"secret": stranger["secret"]}).status_code == 404
        assert http.post("/v2/general/secrets/verify", json={"secret": alice["uuid"]}).status_code == 404
        for bad in ({}, {"secret": ""}, {"secret": 5}, {"secret": "x" * 65}):
            refused = http.post("/v2/general/secrets/verify", json=bad)
            assert refused.status_code == 400 and "secret" in refused.text


def test_the_in_game_link_flow_a_code_redeemed_in_the_console_links_the_player(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    alice = dispatcher(provision, community)
    console = Console(server, community)
    with server.client(community.api_key) as http:
        # What the in-game resource sends on /link: the bare identifier, nothing else.
        player = "4f0e3c0a9b1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"
        assert http.post("/v2/general/links/check", json={"communityUserId": player}).json() == {
            "linked": False,
            "accountUuid": None,
            "communityUserId": player,
        }
        created = http.post("/v2/general/links", json={"communityUserId": player})
        assert created.status_code == 200, created.text
        code = created.json()
        assert code["communityUserId"] == player and code["expiresInSeconds"] == 600
        assert len(code["code"]) == 6 and code["expiresAt"].endswith("Z")
        assert code["url"] == f"{server.origin}/console/link?code={code['code']}"
        assert code["communityUuid"] == community.community_id

        page = console.http.get(f"/console/link?code={code['code']}")
        assert page.status_code == 200 and "link.js" in page.text
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]

        redeemed = console.http.post("/console/api/links/redeem", json={"code": code["code"].lower()})
        assert redeemed.status_code == 200, redeemed.text
        assert redeemed.json() == {"linked": True, "accountUuid": alice["uuid"], "communityUserId": player}
        check = http.post("/v2/general/links/check", json={"communityUserId": player}).json()
        assert check == {"linked": True, "accountUuid": alice["uuid"], "communityUserId": player}
        # A code is used once.
        again = console.http.post("/console/api/links/redeem", json={"code": code["code"]})
        assert again.status_code == 404


def test_a_link_code_expires_after_ten_minutes_and_a_new_one_replaces_the_old(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    dispatcher(provision, community)
    console = Console(server, community)
    with server.client(community.api_key) as http:
        first = http.post("/v2/general/links", json={"communityUserId": "p1"}).json()["code"]
        second = http.post("/v2/general/links", json={"communityUserId": "p1"}).json()["code"]
        assert provision.scalar("SELECT count(*) FROM link_codes") == 1
        if first != second:
            assert console.http.post("/console/api/links/redeem", json={"code": first}).status_code == 404
        clock.advance(minutes=10)
        assert console.http.post("/console/api/links/redeem", json={"code": second}).status_code == 404
        assert http.post("/v2/general/links/check", json={"communityUserId": "p1"}).json()["linked"] is False


def test_redeeming_needs_a_session_and_its_csrf_token_and_a_code_of_the_same_community(
    server: Server, provision: Provisioner, community: Community, other: Community
) -> None:
    dispatcher(provision, community)
    console = Console(server, community)
    with server.client(other.api_key) as http:
        foreign = http.post("/v2/general/links", json={"communityUserId": "p9"}).json()["code"]
    with server.client(community.api_key) as http:
        own = http.post("/v2/general/links", json={"communityUserId": "p1"}).json()["code"]
    assert console.http.post("/console/api/links/redeem", json={"code": foreign}).status_code == 404
    without_token = console.http.post(
        "/console/api/links/redeem", json={"code": own}, headers={"X-CSRF-Token": "wrong"}
    )
    assert without_token.status_code == 403
    with server.client() as anonymous:
        assert anonymous.post("/console/api/links/redeem", json={"code": own}).status_code == 401
    for bad in ({}, {"code": ""}, {"code": 1234}, {"code": "x" * 17}):
        refused = console.http.post("/console/api/links/redeem", json=bad)
        assert refused.status_code == 400 and "code" in refused.text
    assert provision.scalar("SELECT count(*) FROM link_codes") == 2  # nothing was used up


def test_bad_link_code_requests_are_400s_and_store_nothing(
    server: Server, provision: Provisioner, community: Community
) -> None:
    with server.client(community.api_key) as http:
        for bad in ({}, [], {"communityUserId": ""}, {"communityUserId": 5}, {"communityUserId": "x" * 256}):
            answer = http.post("/v2/general/links", json=bad)
            assert answer.status_code == 400, answer.text
    assert provision.scalar("SELECT count(*) FROM link_codes") == 0


def test_link_codes_outstanding_are_bounded_per_community(
    server: Server, provision: Provisioner, community: Community, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opendispatch.accounts import service

    monkeypatch.setattr(service, "MAX_OUTSTANDING_CODES", 3)
    lift_every_limit(provision, community)
    with server.client(community.api_key) as http:
        for number in range(3):
            assert http.post("/v2/general/links", json={"communityUserId": f"p{number}"}).status_code == 200
        refused = http.post("/v2/general/links", json={"communityUserId": "p3"})
        assert refused.status_code == 409
        # The same player asking again replaces their own code: never refused.
        assert http.post("/v2/general/links", json={"communityUserId": "p0"}).status_code == 200
    assert provision.scalar("SELECT count(*) FROM link_codes") == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "per_minute"),
    [
        ("GET", "/v2/general/accounts", None, 10),
        ("GET", "/v2/general/accounts/account?username=alice", None, 10),
        ("POST", "/v2/general/secrets/verify", {"secret": "nope"}, 10),
        ("POST", "/v2/general/links", {"communityUserId": "p1"}, 30),
        ("POST", "/v2/general/links/check", {"communityUserId": "p1"}, 30),
    ],
)
def test_each_operation_has_its_docs_per_key_limit(
    server: Server,
    provision: Provisioner,
    community: Community,
    method: str,
    path: str,
    body: Any,
    per_minute: int,
) -> None:
    member(provision, community, "alice")
    with server.client(community.api_key) as http:
        statuses = [http.request(method, path, json=body).status_code for _ in range(per_minute + 1)]
    assert 429 not in statuses[:per_minute] and statuses[-1] == 429


def test_set_link_reassigns_a_linked_id_and_refuses_a_wrong_secret_with_403(
    server: Server, provision: Provisioner, community: Community, other: Community
) -> None:
    alice = member(provision, community, "alice", community_user_id="fivem:12345")
    bob = member(provision, community, "bob")
    stranger = member(provision, other, "zed")
    with server.client(community.api_key) as http:
        body = {"accountUuid": bob["uuid"], "secretUuid": bob["secret"], "communityUserId": "fivem:12345"}
        moved = http.post("/v2/general/links/set", json=body)
        assert moved.json() == {"linked": True, "accountUuid": bob["uuid"], "communityUserId": "fivem:12345"}
        check = http.post("/v2/general/links/check", json={"communityUserId": "fivem:12345"}).json()
        assert check["accountUuid"] == bob["uuid"]
        assert (
            http.get("/v2/general/accounts/account", params={"accountUuid": alice["uuid"]}).json()[
                "communityUserId"
            ]
            is None
        )
        for wrong in (
            {**body, "secretUuid": alice["secret"]},
            {**body, "accountUuid": stranger["uuid"], "secretUuid": stranger["secret"]},
        ):
            refused = http.post("/v2/general/links/set", json=wrong)
            assert refused.status_code == 403
            assert stranger["uuid"] not in refused.text


def test_a_link_is_announced_on_every_server_with_community_link_verified(
    server: Server, provision: Provisioner, community: Community
) -> None:
    dispatcher(provision, community)
    console = Console(server, community)
    with server.client(community.api_key) as http:
        code = http.post("/v2/general/links", json={"communityUserId": "p-7"}).json()["code"]
        assert console.http.post("/console/api/links/redeem", json={"code": code}).status_code == 200
    with provision.db.engine.connect() as conn:
        rows = conn.execute(
            select(events.c.server_id, events.c.data)
            .where(events.c.type == "EVENT_COMMUNITY_LINK_VERIFIED")
            .order_by(events.c.server_id)
        ).all()
    alice = provision.scalar("SELECT account_uuid FROM accounts WHERE username = 'alice'")
    assert [(row.server_id, json.loads(row.data)) for row in rows] == [
        (server_id, {"communityUserId": "p-7", "accountUuid": alice}) for server_id in (1, 2)
    ]


def test_guessing_link_codes_is_throttled_per_account_and_codes_are_not_stored_in_the_clear(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    dispatcher(provision, community)
    console = Console(server, community)
    with server.client(community.api_key) as http:
        code = http.post("/v2/general/links", json={"communityUserId": "p1"}).json()["code"]
        stored = provision.scalar("SELECT code_hash FROM link_codes")
        assert code not in stored and len(stored) == 64
        guesses = [
            console.http.post("/console/api/links/redeem", json={"code": "ZZZZZ" + str(n)}) for n in range(5)
        ]
        assert [guess.status_code for guess in guesses] == [404] * 5
        # The sixth try in the minute is refused, even with the right code; a minute later it works.
        throttled = console.http.post("/console/api/links/redeem", json={"code": code})
        assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
        assert http.post("/v2/general/links/check", json={"communityUserId": "p1"}).json()["linked"] is False
        clock.advance(minutes=1)
        assert console.http.post("/console/api/links/redeem", json={"code": code}).status_code == 200
