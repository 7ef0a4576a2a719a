"""The admin pages' API keys, and plan and limits; and that only an admin of the community gets in."""

from __future__ import annotations

from typing import Any

import orjson

from opendispatch.api.limits import DEFAULT_LIMITS
from tests.admin.support import ADMIN, admin_console, latest_audit, png, put, seen
from tests.support import Community, Provisioner, Server, every_row_count
from tests.web.support import Console, dispatcher


def test_an_admin_creates_lists_and_revokes_a_key_by_its_label_and_prefix(
    uncached_server: Server, provision: Provisioner, community: Community
) -> None:
    server = uncached_server
    console = admin_console(server, provision, community)
    try:
        made = console.post(ADMIN + "/keys", {"label": "  discord bot "})
        assert made.status_code == 200, made.text
        api_key, info = made.json()["apiKey"], made.json()["key"]
        assert api_key.startswith(info["prefix"]) and info["label"] == "discord bot"
        assert info["lastUsed"] is None and info["revoked"] is None
        with server.client(api_key) as api:
            assert api.get("/v2/general/info").status_code == 200
        listed = {key["label"]: key for key in console.get(ADMIN + "/keys").json()["keys"]}
        assert set(listed) == {None, "discord bot"}
        assert listed["discord bot"]["lastUsed"] is not None  # the use just made
        assert api_key.encode() not in console.get(ADMIN + "/keys").content  # shown once

        revoked = console.delete(ADMIN + "/keys/" + info["prefix"])
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["key"]["revoked"] is not None
        with server.client(api_key) as api:
            assert api.get("/v2/general/info").status_code == 401
        assert [key["label"] for key in console.get(ADMIN + "/keys").json()["keys"]] == [None]
        everything = {
            key["label"]: key
            for key in console.get(ADMIN + "/keys", params={"revoked": "true"}).json()["keys"]
        }
        assert everything["discord bot"]["prefix"] == info["prefix"] and everything["discord bot"]["revoked"]
        assert console.delete(ADMIN + "/keys/" + info["prefix"]).status_code == 404  # revoked already

        entries = latest_audit(console)
        assert [(entry["action"], entry["target"], entry["detail"]) for entry in entries] == [
            ("key.revoke", f"key {info['prefix']}", {"label": "discord bot"}),
            ("key.create", f"key {info['prefix']}", {"label": "discord bot"}),
        ]
        assert api_key.encode() not in orjson.dumps(entries)
    finally:
        console.close()


def test_key_bad_input_changes_nothing(server: Server, provision: Provisioner, community: Community) -> None:
    console = admin_console(server, provision, community)
    try:
        for bad in ({}, {"label": ""}, {"label": "x" * 65}, {"label": 5}, {"label": "a", "key": "od_x"}):
            assert console.post(ADMIN + "/keys", bad).status_code == 400, bad
        assert console.delete(ADMIN + "/keys/" + "x" * 17).status_code == 400
        assert console.delete(ADMIN + "/keys/od_none").status_code == 404
        assert len(console.get(ADMIN + "/keys").json()["keys"]) == 1 and latest_audit(console) == []
    finally:
        console.close()


def test_plan_api_switch_and_limits_are_shown_changed_and_cleared(
    uncached_server: Server, provision: Provisioner, community: Community
) -> None:
    server = uncached_server
    console = admin_console(server, provision, community)
    try:
        shown = console.get(ADMIN + "/limits").json()
        assert shown["plan"] == "PRO" and shown["apiEnabled"] is True
        assert shown["plans"] == ["FREE", "STARTER", "STANDARD", "PLUS", "PRO"]
        by_name = {row["operation"]: row for row in shown["limits"]}
        assert set(by_name) == set(DEFAULT_LIMITS)
        assert by_name["get_calls"] == {
            "operation": "get_calls",
            "default": 3,
            "override": None,
            "perMinute": 3,
        }

        changed = console.http.put(ADMIN + "/limits/get_calls", json={"perMinute": 1})
        assert changed.status_code == 200, changed.text
        row = next(one for one in changed.json()["limits"] if one["operation"] == "get_calls")
        assert row == {"operation": "get_calls", "default": 3, "override": 1, "perMinute": 1}
        # The second read: the API itself now refuses the second request of the minute.
        with server.client(community.api_key) as api:
            assert api.get("/v2/emergency/servers/1/calls").status_code == 200
            assert api.get("/v2/emergency/servers/1/calls").status_code == 429
        cleared = console.delete(ADMIN + "/limits/get_calls")
        assert cleared.status_code == 200
        assert (
            next(one for one in cleared.json()["limits"] if one["operation"] == "get_calls")["override"]
            is None
        )
        assert console.delete(ADMIN + "/limits/get_calls").status_code == 404  # no override left

        plan = console.patch(ADMIN + "/community", {"plan": "STARTER"})
        assert plan.status_code == 200 and plan.json()["plan"] == "STARTER"
        off = console.patch(ADMIN + "/community", {"apiEnabled": False})
        assert off.json()["apiEnabled"] is False
        with server.client(community.api_key) as api:
            refused = api.get("/v2/general/info")
            assert refused.status_code == 403 and "not enabled" in refused.text
        # The admin pages still work with the API off (they are the way to switch it back on).
        assert console.patch(ADMIN + "/community", {"apiEnabled": True}).json()["apiEnabled"] is True
        with server.client(community.api_key) as api:
            assert api.get("/v2/general/info").status_code == 200

        assert [(entry["action"], entry["target"], entry["detail"]) for entry in latest_audit(console)] == [
            ("community.set", "community", {"apiEnabled": True}),
            ("community.set", "community", {"apiEnabled": False}),
            ("community.set", "community", {"plan": "STARTER"}),
            ("limit.clear", "limit get_calls", {"default": 3}),
            ("limit.set", "limit get_calls", {"perMinute": 1}),
        ]
    finally:
        console.close()


def test_plan_and_limit_bad_input_changes_nothing(
    server: Server, provision: Provisioner, community: Community
) -> None:
    console = admin_console(server, provision, community)
    try:
        before = console.get(ADMIN + "/limits").json()
        for bad in (
            {"perMinute": 0},
            {"perMinute": 1_000_001},
            {"perMinute": "many"},
            {},
            {"perMinute": 5, "x": 1},
        ):
            assert console.http.put(ADMIN + "/limits/get_calls", json=bad).status_code == 400, bad
        assert console.http.put(ADMIN + "/limits/no_such_thing", json={"perMinute": 5}).status_code == 400
        assert console.delete(ADMIN + "/limits/no_such_thing").status_code == 400
        for bad in ({}, {"plan": "GOLD"}, {"plan": 4}, {"apiEnabled": "off"}, {"plan": "PRO", "name": "x"}):
            assert console.patch(ADMIN + "/community", bad).status_code == 400, bad
        assert console.get(ADMIN + "/limits").json() == before and latest_audit(console) == []
    finally:
        console.close()


# Every change the admin pages make: (method, path, JSON body or raw bytes).
CHANGES: list[tuple[str, str, Any]] = [
    ("PATCH", ADMIN + "/servers/1", {"name": "Renamed"}),
    ("PUT", ADMIN + "/servers/1/push", {"url": "http://127.0.0.1:1/e"}),
    ("POST", ADMIN + "/servers/1/push/rotate", {}),
    ("POST", ADMIN + "/servers/1/redeliver", {"dead": True}),
    ("PUT", ADMIN + "/map/image?serverId=1&bounds=0,0,10,10", b"image"),
    ("PUT", ADMIN + "/map/tiles?serverId=1&files=a.png:5", b"image"),
    ("DELETE", ADMIN + "/servers/1/map", None),
    ("PUT", ADMIN + "/postals", b"[]"),
    ("POST", ADMIN + "/keys", {"label": "x"}),
    ("DELETE", ADMIN + "/keys/od_", None),
    ("PATCH", ADMIN + "/community", {"apiEnabled": False}),
    ("PUT", ADMIN + "/limits/get_calls", {"perMinute": 1}),
    ("DELETE", ADMIN + "/limits/get_calls", None),
]
READS = [ADMIN + "/servers", ADMIN + "/servers/1/deliveries", ADMIN + "/keys", ADMIN + "/limits"]


def send(console: Console, method: str, path: str, body: Any) -> Any:
    if isinstance(body, bytes):
        return console.http.request(method, path, content=body)
    return console.http.request(method, path, json=body)


def test_a_dispatcher_gets_403_for_every_read_and_change_and_nothing_changes(
    server: Server, provision: Provisioner, community: Community
) -> None:
    dispatcher(provision, community, "alice")
    watcher = admin_console(server, provision, community)
    provision.set_limit(community, "get_calls", 2)  # something for the clear to clear
    alice = Console(server, community, "alice")
    try:
        before, rows = seen(watcher), every_row_count(provision)
        for path in READS:
            assert alice.get(path).status_code == 403, path
        for method, path, body in CHANGES:
            refused = send(alice, method, path, body)
            assert refused.status_code == 403 and "admin role" in refused.text, (method, path)
        assert seen(watcher) == before and every_row_count(provision) == rows
        assert latest_audit(watcher) == []
    finally:
        alice.close()
        watcher.close()
    with server.client() as anonymous:  # no session at all
        for method, path, body in CHANGES:
            assert (
                anonymous.request(
                    method, path, json=body if not isinstance(body, bytes) else None
                ).status_code
                == 401
            )


def test_an_admin_of_one_community_gets_404_for_anothers_servers_and_keys(
    server: Server, provision: Provisioner, community: Community
) -> None:
    server_id = 3
    other = provision.community("Beta", servers=3)  # has a server 3; Alpha has 1 and 2
    other_admin = admin_console(server, provision, other, "beta-root")
    other_key = other_admin.post(ADMIN + "/keys", {"label": "beta bot"}).json()
    with server.client(other_key["apiKey"]) as api:
        assert api.get("/v2/general/info").status_code == 200  # its "last used" is now set
    before = seen(other_admin)
    console = admin_console(server, provision, community)
    try:
        path = f"{ADMIN}/servers/{server_id}"
        assert console.patch(path, {"name": "Mine now"}).status_code == 404
        assert console.http.put(path + "/push", json={"url": "http://127.0.0.1:1/e"}).status_code == 404
        assert console.post(path + "/push/rotate").status_code == 404
        assert console.get(path + "/deliveries").status_code == 404
        assert console.post(path + "/redeliver", {"dead": True}).status_code == 404
        assert console.delete(path + "/map").status_code == 404
        assert (
            put(console, ADMIN + "/map/image", png(8, 8), serverId=server_id, bounds="0,0,1,1").status_code
            == 404
        )
        assert console.delete(ADMIN + "/keys/" + other_key["key"]["prefix"]).status_code == 404
        # Alpha's own changes leave Beta's limits, plan and postal list alone.
        console.http.put(ADMIN + "/limits/get_calls", json={"perMinute": 1})
        console.patch(ADMIN + "/community", {"apiEnabled": False})
        put(console, ADMIN + "/postals", b'[{"code": "1", "x": 0, "y": 0}]')
        assert seen(other_admin) == before
        assert [entry["action"] for entry in latest_audit(other_admin)] == ["key.create"]
        with server.client(other_key["apiKey"]) as api:
            assert api.get("/v2/general/info").status_code == 200  # not revoked by Alpha's admin
    finally:
        console.close()
        other_admin.close()
