"""The admin pages' servers: names, push targets, the delivery log, map images and the postal file."""

from __future__ import annotations

import io
import time
from typing import Any

import orjson
import pytest
from PIL import Image
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from opendispatch.events import service as events
from opendispatch.events.models import delivery_attempts
from opendispatch.events.models import events as event_rows
from opendispatch.settings import Settings
from opendispatch.web import tiles
from tests.admin.support import ADMIN, admin_console, latest_audit, put
from tests.events.receiver import Receiver
from tests.support import Community, ManualClock, Provisioner, Server, in_process_server, new_911
from tests.web.support import SAMPLE_MAP_BOUNDS, sample_map_png


def test_an_admin_lists_and_renames_servers_with_their_heartbeat(
    server: Server, provision: Provisioner, community: Community
) -> None:
    with server.client(community.api_key) as api:
        beat = api.post("/v2/general/servers/2/heartbeat", json={"playerCount": 17})
        assert beat.status_code == 200, beat.text
    console = admin_console(server, provision, community)
    try:
        listed = console.get(ADMIN + "/servers").json()
        assert [one["name"] for one in listed["servers"]] == ["Server 1", "Server 2"]
        first, second = listed["servers"]
        assert first["playerCount"] is None and first["lastHeartbeat"] is None
        assert second["playerCount"] == 17 and second["lastHeartbeat"].endswith("Z")
        assert first["push"] is None and first["map"] is None and listed["postals"] == 0

        renamed = console.patch(ADMIN + "/servers/1", {"name": "  Los Santos  "})
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["name"] == "Los Santos"
        # The second read: the API the in-game resource reads sees the new name too.
        with server.client(community.api_key) as api:
            names = [one["name"] for one in api.get("/v2/general/servers").json()["servers"]]
        assert names == ["Los Santos", "Server 2"]
        [entry] = latest_audit(console)
        assert entry["action"] == "server.rename" and entry["target"] == "server 1"
        assert entry["detail"] == {"name": "Los Santos"} and entry["actor"] == "root"

        for bad in ({"name": ""}, {"name": "   "}, {"name": "x" * 256}, {}, {"name": 5}, {"nom": "x"}):
            refused = console.patch(ADMIN + "/servers/1", bad)
            assert refused.status_code == 400, (bad, refused.text)
        assert console.patch(ADMIN + "/servers/7", {"name": "Nowhere"}).status_code == 404
        assert len(latest_audit(console)) == 1
        assert [one["name"] for one in console.get(ADMIN + "/servers").json()["servers"]] == [
            "Los Santos",
            "Server 2",
        ]
    finally:
        console.close()


@pytest.fixture
def fast_server(settings: Settings, provision: Provisioner, clock: ManualClock) -> Any:
    with in_process_server(settings.model_copy(update={"push_poll_seconds": 0.1})) as running:
        yield running


def wait_for_attempts(console: Any, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while len(attempts := console.get(ADMIN + "/servers/1/deliveries").json()["attempts"]) < count:
        assert time.monotonic() < deadline, "the attempt never reached the delivery log"
        time.sleep(0.02)
    return list(attempts)


def test_a_push_target_is_made_its_secret_shown_once_rotated_and_its_deliveries_sent_again(
    fast_server: Server, provision: Provisioner, community: Community
) -> None:
    receiver = Receiver().start()
    console = admin_console(fast_server, provision, community)
    try:
        made = console.http.put(ADMIN + "/servers/1/push", json={"url": receiver.url, "shape": "object"})
        assert made.status_code == 200, made.text
        answer = made.json()
        secret, receiver_key = answer["signingSecret"], answer["receiverKey"]
        assert secret.startswith("whsec_") and receiver_key.startswith("od_")
        assert answer["server"]["push"] == {
            "url": receiver.url,
            "shape": "object",
            "enabled": True,
            "receiverKey": True,
        }
        # Shown once: neither the list nor a later change answers the secret or the key again.
        listed = console.get(ADMIN + "/servers").content
        assert secret.encode() not in listed and receiver_key.encode() not in listed
        changed = console.http.put(ADMIN + "/servers/1/push", json={"shape": "array"}).json()
        assert changed["signingSecret"] is None and changed["receiverKey"] is None
        assert changed["server"]["push"]["shape"] == "array"
        # The receiver's key is an API key of the community, listed by its label.
        keys = console.get(ADMIN + "/keys").json()["keys"]
        assert [key["label"] for key in keys] == [None, "push receiver, server 1"]

        with fast_server.client(community.api_key) as api:
            assert (
                api.post("/v2/emergency/servers/1/calls/911", json=new_911(caller="Ann")).status_code == 200
            )
        [arrival] = receiver.wait_for(1)
        assert arrival.json["key"] == receiver_key
        Webhook(secret).verify(arrival.body, arrival.headers)  # signed with the secret shown

        rotated = console.post(ADMIN + "/servers/1/push/rotate")
        assert rotated.status_code == 200, rotated.text
        new_secret = rotated.json()["signingSecret"]
        assert new_secret.startswith("whsec_") and new_secret != secret

        [attempt] = wait_for_attempts(console, 1)
        assert attempt["statusCode"] == 200 and attempt["state"] == "delivered"
        redelivered = console.post(ADMIN + "/servers/1/redeliver", {"eventId": attempt["eventId"]})
        assert redelivered.status_code == 200, redelivered.text
        assert redelivered.json() == {"eventIds": [attempt["eventId"]]}
        second = receiver.wait_for(2)[1]
        assert second.headers["webhook-id"] == arrival.headers["webhook-id"]
        Webhook(new_secret).verify(second.body, second.headers)  # the rotated secret signs from now on
        assert len(wait_for_attempts(console, 2)) == 2

        off = console.http.put(ADMIN + "/servers/1/push", json={"enabled": False})
        assert off.json()["server"]["push"]["enabled"] is False
        with fast_server.client(community.api_key) as api:
            assert api.get("/v2/general/servers").json()["servers"][0]["pushEnabled"] is False

        entries = latest_audit(console)
        assert [entry["action"] for entry in entries] == [
            "push.change",
            "push.redeliver",
            "push.rotate_secret",
            "push.change",
            "push.create",
        ]
        created = entries[-1]["detail"]
        assert created == {
            "url": receiver.url,
            "shape": "object",
            "enabled": True,
            "receiverKey": receiver_key[:7],
        }
        everything = orjson.dumps(entries)
        assert secret.encode() not in everything and new_secret.encode() not in everything
        assert receiver_key.encode() not in everything
    finally:
        console.close()
        receiver.stop()


def test_push_target_bad_input_changes_nothing(
    server: Server, provision: Provisioner, community: Community
) -> None:
    console = admin_console(server, provision, community)
    try:
        for bad in (
            {"url": "ftp://x"},
            {"url": "not a url"},
            {"url": "http://" + "x" * 2048},
            {"shape": "round", "url": "http://127.0.0.1:1/e"},
            {"enabled": "maybe", "url": "http://127.0.0.1:1/e"},
            {},
            {"shape": "array"},  # a new target needs a URL
            {"url": "http://127.0.0.1:1/e", "extra": 1},
        ):
            refused = console.http.put(ADMIN + "/servers/1/push", json=bad)
            assert refused.status_code == 400, (bad, refused.text)
        assert (
            console.http.put(ADMIN + "/servers/9/push", json={"url": "http://127.0.0.1:1/e"}).status_code
            == 404
        )
        assert console.post(ADMIN + "/servers/1/push/rotate").status_code == 404  # no target yet
        assert console.get(ADMIN + "/servers").json()["servers"][0]["push"] is None
        assert len(console.get(ADMIN + "/keys").json()["keys"]) == 1  # no receiver key issued
        assert latest_audit(console) == []
    finally:
        console.close()


def emit_dead(provision: Provisioner, community: Community, server_id: int, count: int) -> list[int]:
    """Events of a server whose delivery gave up, each with one failed attempt in the log."""
    with provision.db.transaction() as conn:
        for number in range(count):
            events.emit(
                conn,
                community_id=community.community_id,
                server_id=server_id,
                type=events.EventType.EVENT_REMOVE_911,
                data={"callIds": [number]},
                now=provision.now(),
            )
        ids = list(
            conn.execute(
                select(event_rows.c.event_id)
                .where(
                    event_rows.c.community_id == community.community_id, event_rows.c.server_id == server_id
                )
                .order_by(event_rows.c.event_id)
            ).scalars()
        )
        for event_id in ids:
            conn.execute(
                delivery_attempts.insert().values(
                    event_id=event_id,
                    community_id=community.community_id,
                    server_id=server_id,
                    time=provision.now(),
                    url="http://127.0.0.1:1/gone",
                    status_code=None,
                    latency_ms=3,
                    error="connection refused",
                )
            )
            conn.exec_driver_sql(f"UPDATE events SET state = 'dead' WHERE event_id = {int(event_id)}")
    return ids


def states(provision: Provisioner, ids: list[int]) -> list[str]:
    listed = ",".join(str(int(one)) for one in ids)
    with provision.db.engine.connect() as conn:
        return list(
            conn.exec_driver_sql(
                f"SELECT state FROM events WHERE event_id IN ({listed}) ORDER BY event_id"
            ).scalars()
        )


def test_every_dead_event_of_a_server_is_sent_again_and_other_servers_events_are_not_named(
    server: Server, provision: Provisioner, community: Community
) -> None:
    dead = emit_dead(provision, community, 1, 3)
    other_server = emit_dead(provision, community, 2, 1)
    other = provision.community("Beta")
    foreign = emit_dead(provision, other, 1, 1)
    console = admin_console(server, provision, community)
    try:
        log = console.get(ADMIN + "/servers/1/deliveries", params={"limit": 2}).json()["attempts"]
        assert [one["eventId"] for one in log] == dead[:0:-1] and log[0]["error"] == "connection refused"
        assert log[0]["state"] == "dead"
        # Another server's event, and another community's, are not this server's: 404, nothing queued.
        for event_id in (other_server[0], foreign[0]):
            refused = console.post(ADMIN + "/servers/1/redeliver", {"eventId": event_id})
            assert refused.status_code == 404, refused.text
        for bad in (
            {},
            {"eventId": 0},
            {"eventId": "x"},
            {"dead": True, "eventId": dead[0]},
            {"dead": False},
        ):
            assert console.post(ADMIN + "/servers/1/redeliver", bad).status_code == 400, bad
        assert console.get(ADMIN + "/servers/1/deliveries", params={"limit": 0}).status_code == 400
        assert console.get(ADMIN + "/servers/3/deliveries").status_code == 404
        assert states(provision, other_server + foreign) == ["dead", "dead"]

        queued = console.post(ADMIN + "/servers/1/redeliver", {"dead": True})
        assert queued.status_code == 200, queued.text
        assert queued.json() == {"eventIds": dead}
        assert "dead" not in states(provision, dead)  # queued (or skipped at once: there is no target)
        assert states(provision, other_server + foreign) == ["dead", "dead"]
        [entry] = latest_audit(console)
        assert entry["action"] == "push.redeliver" and entry["detail"] == {"dead": True, "queued": 3}
    finally:
        console.close()


def test_a_map_image_is_uploaded_with_its_corners_and_cleared(
    server: Server, provision: Provisioner, community: Community
) -> None:
    console = admin_console(server, provision, community)
    image = sample_map_png()
    try:
        stored = put(
            console, ADMIN + "/map/image", image, serverId=1, bounds=",".join(map(str, SAMPLE_MAP_BOUNDS))
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["width"] == 1200 and stored.json()["bounds"] == list(SAMPLE_MAP_BOUNDS)
        # The second read: the console's own map answers the image as uploaded.
        listed = console.get(ADMIN + "/servers").json()["servers"][0]["map"]
        assert listed["height"] == 1000
        assert console.get(listed["imageUrl"]).content == image

        for params, body in (
            ({"serverId": 1, "bounds": "1,2,3"}, image),
            ({"serverId": 1, "bounds": "0,0,0,5"}, image),
            ({"serverId": 1}, image),
            ({"serverId": 1, "bounds": "0,0,10,10"}, b"not an image"),
            ({"serverId": 1, "bounds": "0,0,10,10"}, b""),
            ({"serverId": 0, "bounds": "0,0,10,10"}, image),
        ):
            assert put(console, ADMIN + "/map/image", body, **params).status_code == 400, params
        assert put(console, ADMIN + "/map/image", image, serverId=3, bounds="0,0,1,1").status_code == 404
        assert console.get(ADMIN + "/servers").json()["servers"][0]["map"] == listed

        cleared = console.delete(ADMIN + "/servers/1/map")
        assert cleared.status_code == 200 and cleared.json() == {"serverId": 1}
        assert console.get(ADMIN + "/servers").json()["servers"][0]["map"] is None
        assert console.delete(ADMIN + "/servers/1/map").status_code == 404  # nothing left to clear
        assert [entry["action"] for entry in latest_audit(console)] == ["map.clear", "map.set"]
        assert latest_audit(console)[1]["detail"]["tiles"] is False
    finally:
        console.close()


def test_a_map_image_may_be_32_mib_and_no_larger(
    server: Server, provision: Provisioner, community: Community
) -> None:
    console = admin_console(server, provision, community)
    try:
        too_large = put(
            console, ADMIN + "/map/image", b"\0" * (32 * 1024 * 1024 + 1), serverId=1, bounds="0,0,1,1"
        )
        assert too_large.status_code == 413
        # Any other admin path keeps the ordinary limit.
        assert (
            console.http.put(ADMIN + "/servers/1/push", content=b"{" + b" " * 70_000 + b"}").status_code
            == 413
        )
    finally:
        console.close()


def tile_files(fmt: str = "PNG") -> dict[str, bytes]:
    files = {}
    for row in range(3):
        for col in range(2):
            out = io.BytesIO()
            Image.new("RGB", (64, 64), (40 * row, 100 * col, 90)).save(out, format=fmt)
            files[f"minimap_sea_{row}_{col}.{fmt.lower()}"] = out.getvalue()
    return files


def test_the_six_map_tiles_are_composed_into_the_servers_map(
    server: Server, provision: Provisioner, community: Community
) -> None:
    console = admin_console(server, provision, community)
    files = tile_files()
    listing = ",".join(f"{name}:{len(data)}" for name, data in files.items())
    body = b"".join(files.values())
    try:
        stored = put(console, ADMIN + "/map/tiles", body, serverId=2, files=listing)
        assert stored.status_code == 200, stored.text
        assert (stored.json()["width"], stored.json()["height"]) == (128, 192)
        assert stored.json()["bounds"] == list(tiles.TILE_SET_BOUNDS)
        shown = console.get(ADMIN + "/servers").json()["servers"][1]["map"]
        composed = Image.open(io.BytesIO(console.get(shown["imageUrl"]).content)).convert("RGB")
        assert composed.getpixel((100, 150)) == (80, 100, 90)  # row 2, column 1

        given = put(console, ADMIN + "/map/tiles", body, serverId=2, files=listing, bounds="0,100,200,-200")
        assert given.json()["bounds"] == [0, 100, 200, -200]

        five = dict(list(files.items())[:5])
        for params, sent in (
            ({"files": ",".join(f"{n}:{len(d)}" for n, d in five.items())}, b"".join(five.values())),
            ({"files": listing}, body[:-1]),
            ({"files": "minimap_sea_0_0.png"}, body),
            ({"files": ""}, body),
            ({"files": listing, "bounds": "x"}, body),
        ):
            refused = put(console, ADMIN + "/map/tiles", sent, serverId=2, **params)
            assert refused.status_code == 400, (params, refused.text)
        assert put(console, ADMIN + "/map/tiles", body, serverId=5, files=listing).status_code == 404
        entries = latest_audit(console)
        assert [entry["action"] for entry in entries] == ["map.set", "map.set"]
        assert entries[0]["target"] == "server 2" and entries[0]["detail"]["tiles"] is True
    finally:
        console.close()


def test_a_fivem_postal_file_replaces_the_postal_list(
    server: Server, provision: Provisioner, community: Community
) -> None:
    # As nearest-postal's new-postals.json ships it: a bare list, codes as text.
    postal_file = orjson.dumps([{"code": "100", "x": 425.1, "y": -979.2}, {"code": "101", "x": 10, "y": 20}])
    console = admin_console(server, provision, community)
    try:
        stored = put(console, ADMIN + "/postals", postal_file)
        assert stored.status_code == 200, stored.text
        assert stored.json() == {"updated": 2}
        assert console.get(ADMIN + "/servers").json()["postals"] == 2
        found = console.get("/console/api/postals/101")
        assert found.status_code == 200 and found.json() == {"code": "101", "x": 10.0, "y": 20.0}
        # The v2 body shape is taken too.
        assert put(console, ADMIN + "/postals", orjson.dumps({"postals": []})).json() == {"updated": 0}
        for bad in (
            b"",
            b"not json",
            b'[{"code": "1", "x": "east", "y": 0}]',
            b'{"x": 1}',
            b'[{"code": ""}]',
        ):
            assert put(console, ADMIN + "/postals", bad).status_code == 400, bad
        assert console.get(ADMIN + "/servers").json()["postals"] == 0
        assert [(entry["action"], entry["detail"]) for entry in latest_audit(console)] == [
            ("postals.set", {"postals": 0}),
            ("postals.set", {"postals": 2}),
        ]
    finally:
        console.close()


def test_the_audit_log_keeps_a_push_url_without_its_credentials_or_query(
    server: Server, provision: Provisioner, community: Community
) -> None:
    console = admin_console(server, provision, community)
    try:
        url = "http://hook:s3cret@[::1]:8080/sonorancad/event?token=tok3n-value"
        assert console.http.put(ADMIN + "/servers/2/push", json={"url": url}).status_code == 200
        assert console.get(ADMIN + "/servers").json()["servers"][1]["push"]["url"] == url
        [entry] = latest_audit(console)
        assert (
            entry["target"] == "server 2" and entry["detail"]["url"] == "http://[::1]:8080/sonorancad/event"
        )
        assert "s3cret" not in orjson.dumps(entry).decode() and "tok3n" not in orjson.dumps(entry).decode()
    finally:
        console.close()
