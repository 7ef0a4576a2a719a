"""The admin's Members section over HTTP: invites, roles and ids, disabling, password resets; every
change audited, only admins allowed, only their own community reached."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from tests.admin.support import AUDIT, ME, MEMBERS, UNITS, actions, audit, can_log_in, member
from tests.support import Community, ManualClock, Provisioner, Server, every_row_count
from tests.web.support import PASSWORD, Console, admin, dispatcher

NEW_PASSWORD = "a brand new passphrase"


def invite(console: Console, roles: list[str], **extra: Any) -> dict[str, Any]:
    answer = console.post(MEMBERS + "/invites", {"roles": roles, **extra})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def accept(
    http: httpx.Client, token: str, username: str = "", password: str = NEW_PASSWORD
) -> httpx.Response:
    return http.post(
        "/console/api/invite/accept", json={"token": token, "username": username, "password": password}
    )


def listed(console: Console) -> dict[str, Any]:
    answer = console.get(MEMBERS)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def by_name(console: Console, username: str) -> dict[str, Any]:
    (found,) = [one for one in listed(console)["members"] if one["username"] == username]
    return dict(found)


def test_an_invite_lets_one_person_join_once_with_the_roles_chosen_and_logs_them_in(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    boss = Console(server, community, "root")
    link = invite(boss, ["member", "dispatcher"])
    assert link["kind"] == "join" and link["roles"] == ["dispatcher", "member"]
    assert link["url"].endswith(f"/console/invite?token={link['token']}")
    assert [one["inviteId"] for one in listed(boss)["invites"]] == [link["inviteId"]]
    assert "token" not in listed(boss)["invites"][0]  # the token is shown once

    with server.client() as http:
        info = http.post("/console/api/invite/check", json={"token": link["token"]})
        assert info.status_code == 200, info.text
        assert info.json()["kind"] == "join" and info.json()["communityName"] == "Alpha"
        joined = accept(http, link["token"], "max")
        assert joined.status_code == 200, joined.text
        assert joined.json()["loggedIn"] is True and joined.json()["roles"] == ["dispatcher", "member"]
        mine = http.get(ME)  # the answer's cookie is a session of its own
        assert mine.status_code == 200 and mine.json()["username"] == "max"
        assert accept(http, link["token"], "maxine").status_code == 404  # one time only
        assert http.post("/console/api/invite/check", json={"token": link["token"]}).status_code == 404
    assert can_log_in(server, community, "max", NEW_PASSWORD)
    assert not can_log_in(server, community, "maxine", NEW_PASSWORD)
    assert by_name(boss, "max")["roles"] == ["dispatcher", "member"]
    assert listed(boss)["invites"] == []
    entries = audit(boss)
    assert [(e["action"], e["actor"]) for e in entries] == [("member.invite", "root"), ("member.join", "max")]
    assert entries[0]["detail"]["roles"] == ["dispatcher", "member"] and entries[1]["target"] == "member max"
    assert link["token"] not in str(entries)
    boss.close()


def test_an_invite_dies_when_it_expires_or_is_revoked(
    server: Server, provision: Provisioner, community: Community, clock: ManualClock
) -> None:
    admin(provision, community)
    boss = Console(server, community, "root")
    short = invite(boss, ["member"], hours=1)
    revoked = invite(boss, ["member"])
    clock.advance(minutes=61)
    answer = boss.delete(f"{MEMBERS}/invites/{revoked['inviteId']}")
    assert answer.status_code == 200 and answer.json()["inviteId"] == revoked["inviteId"]
    assert boss.delete(f"{MEMBERS}/invites/{revoked['inviteId']}").status_code == 404
    before = every_row_count(provision)
    with server.client() as http:
        for link in (short, revoked):
            assert http.post("/console/api/invite/check", json={"token": link["token"]}).status_code == 404
            assert accept(http, link["token"], "late").status_code == 404
    assert every_row_count(provision) == before
    assert listed(boss)["invites"] == []
    assert actions(boss) == ["member.invite", "member.invite", "member.invite_revoke"]
    # The default link lives 72 hours.
    default = invite(boss, ["member"])
    clock.advance(minutes=72 * 60 - 1)
    with server.client() as http:
        assert http.post("/console/api/invite/check", json={"token": default["token"]}).status_code == 200
        clock.advance(minutes=2)
        assert http.post("/console/api/invite/check", json={"token": default["token"]}).status_code == 404
    boss.close()


def test_bad_invites_and_bad_answers_are_refused_and_leave_the_link_usable(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    member(provision, community, "taken")
    boss = Console(server, community, "root")
    before = every_row_count(provision)
    for body in ({"roles": []}, {"roles": ["owner"]}, {"roles": ["member"], "hours": 0}, {"roles": "member"}):
        answer = boss.post(MEMBERS + "/invites", body)
        assert answer.status_code == 400, (body, answer.text)
    assert every_row_count(provision) == before
    link = invite(boss, ["member"])
    with server.client() as http:
        short = accept(http, link["token"], "newbie", "short")
        assert short.status_code == 400 and "password" in short.text
        assert accept(http, link["token"], "taken").status_code == 409
        assert accept(http, link["token"], "  ").status_code == 400
        assert http.post("/console/api/invite/accept", json={"token": link["token"]}).status_code == 400
        assert accept(http, link["token"], "newbie").status_code == 200  # still usable after all that
    assert actions(boss) == ["member.invite", "member.join"]
    boss.close()


def test_a_reset_link_kills_the_old_password_at_once_and_sets_a_new_one_once(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    bob = member(provision, community, "bob")
    boss = Console(server, community, "root")
    bobs = Console(server, community, "bob")
    answer = boss.post(f"{MEMBERS}/{bob['uuid']}/password-reset", {})
    assert answer.status_code == 200, answer.text
    link = answer.json()
    assert link["kind"] == "reset" and link["username"] == "bob" and link["accountUuid"] == bob["uuid"]
    assert bobs.get(ME).status_code == 401  # the session ended
    assert not can_log_in(server, community, "bob")  # the old password stopped working
    assert by_name(boss, "bob")["hasPassword"] is False
    with server.client() as http:
        info = http.post("/console/api/invite/check", json={"token": link["token"]}).json()
        assert info["kind"] == "reset" and info["username"] == "bob"
        done = accept(http, link["token"], "ignored-for-a-reset")
        assert done.status_code == 200 and done.json()["username"] == "bob"
        assert accept(http, link["token"]).status_code == 404
    assert can_log_in(server, community, "bob", NEW_PASSWORD)
    assert not can_log_in(server, community, "bob")
    assert by_name(boss, "bob")["roles"] == ["member"]  # a reset gives no role
    # A second reset makes the first link (had it not been used) dead too.
    first = boss.post(f"{MEMBERS}/{bob['uuid']}/password-reset", {"hours": 2}).json()
    second = boss.post(f"{MEMBERS}/{bob['uuid']}/password-reset", {}).json()
    with server.client() as http:
        assert accept(http, first["token"]).status_code == 404
        assert accept(http, second["token"]).status_code == 200
    assert actions(boss) == [
        "member.password_reset",
        "member.password_set",
        "member.password_reset",
        "member.password_reset",
        "member.password_set",
    ]
    assert boss.post(f"{MEMBERS}/{boss.session['accountUuid']}/password-reset", {}).status_code == 409
    boss.close()
    bobs.close()


def test_a_disabled_member_cannot_log_in_until_enabled_again(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    bob = member(provision, community, "bob")
    boss = Console(server, community, "root")
    bobs = Console(server, community, "bob")
    off = boss.http.put(f"{MEMBERS}/{bob['uuid']}/disabled", json={"disabled": True})
    assert off.status_code == 200 and off.json()["disabled"] is True
    assert bobs.get(ME).status_code == 401
    assert not can_log_in(server, community, "bob")
    # A reset link of a disabled member sets the password but opens no session.
    link = boss.post(f"{MEMBERS}/{bob['uuid']}/password-reset", {}).json()
    with server.client() as http:
        done = accept(http, link["token"], password=PASSWORD)
        assert done.status_code == 200 and done.json()["loggedIn"] is False
    assert not can_log_in(server, community, "bob")
    on = boss.http.put(f"{MEMBERS}/{bob['uuid']}/disabled", json={"disabled": False})
    assert on.status_code == 200 and on.json()["disabled"] is False
    assert can_log_in(server, community, "bob")
    assert boss.http.put(f"{MEMBERS}/{bob['uuid']}/disabled", json={"disabled": "yes"}).status_code == 400
    assert (
        boss.http.put(
            f"{MEMBERS}/{boss.session['accountUuid']}/disabled", json={"disabled": True}
        ).status_code
        == 409
    )
    assert actions(boss) == [
        "member.disable",
        "member.password_reset",
        "member.password_set",
        "member.enable",
    ]
    boss.close()
    bobs.close()


def test_an_admin_changes_roles_and_linked_ids_and_bad_or_taken_values_change_nothing(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    bob = member(provision, community, "bob")
    member(provision, community, "carl", "license:carl")
    boss = Console(server, community, "root")
    path = f"{MEMBERS}/{bob['uuid']}"
    changed = boss.patch(
        path,
        {
            "roles": ["dispatcher", "member"],
            "communityUserId": "license:bob",
            "discord": 4242,
            "roblox": "77",
        },
    )
    assert changed.status_code == 200, changed.text
    bob_now = by_name(boss, "bob")
    assert (bob_now["roles"], bob_now["communityUserId"], bob_now["discord"], bob_now["roblox"]) == (
        ["dispatcher", "member"],
        "license:bob",
        "4242",
        "77",
    )
    (entry,) = audit(boss)
    assert entry["action"] == "member.change" and entry["target"] == "member bob"
    assert entry["detail"]["roles"] == {"before": ["member"], "after": ["dispatcher", "member"]}
    assert entry["detail"]["discord"] == {"before": None, "after": "4242"}
    before = every_row_count(provision)
    for body, status in (
        ({"roles": ["owner"]}, 400),
        ({"roles": "admin"}, 400),
        ({"discord": "12x"}, 400),
        ({"communityUserId": "x" * 256}, 400),
        ({"communityUserId": "license:carl"}, 409),
    ):
        answer = boss.patch(path, body)
        assert answer.status_code == status, (body, answer.text)
    assert (
        boss.patch(f"{MEMBERS}/{boss.session['accountUuid']}", {"roles": ["dispatcher"]}).status_code == 409
    )
    assert every_row_count(provision) == before
    assert by_name(boss, "bob") == bob_now
    assert by_name(boss, "root")["roles"] == ["admin", "dispatcher", "member"]
    cleared = boss.patch(path, {"roles": ["member"], "discord": ""}).json()
    assert cleared["roles"] == ["member"] and cleared["discord"] is None
    assert actions(boss) == ["member.change", "member.change"]
    boss.close()


def test_members_and_dispatchers_get_403_from_every_admin_action_and_nothing_changes(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    bob = member(provision, community, "bob")
    dispatcher(provision, community, "alice")
    ident = provision.unit(community, bob["uuid"])
    boss = Console(server, community, "root")
    link = invite(boss, ["member"])
    requests: list[tuple[str, str, Any]] = [
        ("GET", MEMBERS, None),
        ("POST", MEMBERS + "/invites", {"roles": ["admin"]}),
        ("DELETE", f"{MEMBERS}/invites/{link['inviteId']}", None),
        ("PATCH", f"{MEMBERS}/{bob['uuid']}", {"roles": ["admin", "member"]}),
        ("PUT", f"{MEMBERS}/{bob['uuid']}/disabled", {"disabled": True}),
        ("POST", f"{MEMBERS}/{bob['uuid']}/password-reset", {}),
        ("GET", UNITS, None),
        ("PATCH", f"{UNITS}/{ident}", {"name": "Hijacked"}),
        ("PUT", f"{UNITS}/{ident}/selected", {"serverId": 2}),
        ("GET", AUDIT, None),
    ]
    consoles = [Console(server, community, username) for username in ("bob", "alice")]
    before = every_row_count(provision)
    for console in consoles:
        username = console.session["username"]
        for method, path, body in requests:
            answer = console.http.request(method, path, json=body)
            assert answer.status_code == 403, (username, method, path, answer.text)
            assert "admin role" in answer.text
        console.close()
    with server.client() as anonymous:
        for method, path, body in requests:
            assert anonymous.request(method, path, json=body).status_code == 401
    assert every_row_count(provision) == before
    assert actions(boss) == ["member.invite"]
    assert can_log_in(server, community, "bob")
    boss.close()


def test_an_admin_reaches_nothing_of_another_community(
    server: Server, provision: Provisioner, community: Community
) -> None:
    other = provision.community("Beta", servers=2)
    admin(provision, community)
    admin(provision, other, "theirs")
    eve = member(provision, other, "eve")
    ident = provision.unit(other, eve["uuid"])
    theirs = Console(server, other, "theirs")
    their_invite = invite(theirs, ["member"])
    boss = Console(server, community, "root")
    before = every_row_count(provision)
    for method, path, body in (
        ("DELETE", f"{MEMBERS}/invites/{their_invite['inviteId']}", None),
        ("PATCH", f"{MEMBERS}/{eve['uuid']}", {"roles": ["admin"]}),
        ("PUT", f"{MEMBERS}/{eve['uuid']}/disabled", {"disabled": True}),
        ("POST", f"{MEMBERS}/{eve['uuid']}/password-reset", {}),
        ("PATCH", f"{UNITS}/{ident}", {"name": "Mine now"}),
        ("PUT", f"{UNITS}/{ident}/selected", {"serverId": 1}),
    ):
        answer = boss.http.request(method, path, json=body)
        assert answer.status_code == 404, (method, path, answer.text)
    assert every_row_count(provision) == before
    assert [one["username"] for one in listed(boss)["members"]] == ["root"]
    assert listed(boss)["invites"] == [] and boss.get(UNITS).json()["units"] == []
    assert actions(boss) == []
    assert actions(theirs) == ["member.invite"]
    boss.close()
    theirs.close()


def test_the_invite_and_member_pages_load_their_scripts_under_the_consoles_policy(
    server: Server, provision: Provisioner, community: Community
) -> None:
    admin(provision, community)
    boss = Console(server, community, "root")
    link = invite(boss, ["member"])
    # Only the token's SHA-256 is stored.
    stored = provision.scalar("SELECT token_hash FROM account_invites")
    assert stored == hashlib.sha256(link["token"].encode()).hexdigest()
    assert provision.scalar(f"SELECT count(*) FROM account_invites WHERE token_hash = '{link['token']}'") == 0
    with server.client() as http:
        for path, script in (("/console/invite?token=x", "js/invite.js"), ("/console/me", "js/me.js")):
            page = http.get(path)
            assert (
                page.status_code == 200
                and f'<script type="module" src="/console/static/{script}' in page.text
            )
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert page.text.count("<script") == 1
        assert http.get("/console/static/" + "js/admin/members.js").status_code == 200
        assert http.get(ME).status_code == 401
    boss.close()
