"""The console over HTTP against the running app: login, cookie, CSRF, isolation between communities,
the console's actions and their authors, its live stream (on a real socket), and the two v2 endpoints
it adds."""

from __future__ import annotations

import io
import json
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from PIL import Image

from opendispatch.web import maps, sessions
from tests.events.test_stream import Listener
from tests.support import Community, LiveServer, ManualClock, Provisioner, Server, new_911, new_dispatch
from tests.web.support import C1, PASSWORD, S1, Console, dispatcher, place_unit

LOGIN = "/console/api/login"


def login_body(community: Community, username: str = "alice", password: str = PASSWORD) -> dict[str, str]:
    return {"communityId": community.community_id, "username": username, "password": password}


# -- the page and its assets -----------------------------------------------------------------------------


def test_the_console_page_and_its_assets_are_served_by_the_same_process(server: Server) -> None:
    with server.client() as http:
        page = http.get("/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert '<script type="module" src="/console/static/js/main.js?v=' in page.text
        for asset, kind in (
            ("js/main.js", "javascript"),
            ("console.css", "text/css"),
            ("js/map.js", "javascript"),
        ):
            answer = http.get(f"/console/static/{asset}")
            assert answer.status_code == 200 and kind in answer.headers["content-type"], asset
        escape = http.get("/console/static/%2e%2e/models.py")  # the package's code is not an asset
        assert escape.status_code == 404 and "console_sessions" not in escape.text
        # The console's own endpoints are not part of the documented API; its two v2 endpoints are.
        paths = http.get("/openapi.json").json()["paths"]
        assert not [path for path in paths if path.startswith("/console")]
        assert "/v2/emergency/servers/{serverId}/calls/{callId}/snapshot.png" in paths
        assert "/v2/emergency/servers/{serverId}/dispatch-calls/{callId}/nearest-units" in paths


# -- login, the cookie, CSRF -----------------------------------------------------------------------------


def test_login_sets_an_httponly_samesite_strict_cookie_and_answers_the_session(
    server: Server, community: Community, alice: dict[str, str]
) -> None:
    with server.client() as http:
        assert http.get("/console/api/session").status_code == 401
        answer = http.post(LOGIN, json=login_body(community))
        assert answer.status_code == 200, answer.text
        cookie = SimpleCookie(answer.headers["set-cookie"])["od_console"]
        assert cookie["httponly"] and cookie["samesite"].lower() == "strict" and cookie["path"] == "/"
        assert not cookie["secure"]  # plain http on loopback; over https the cookie is Secure
        assert int(cookie["max-age"]) == sessions.SESSION_MS // 1000
        session = answer.json()
        assert session["username"] == "alice" and session["communityName"] == "Alpha"
        assert session["communityUserId"] == "license:dispatch-alice"
        assert [server["id"] for server in session["servers"]] == [1, 2]
        assert session["csrfToken"] and session["csrfToken"] not in answer.headers["set-cookie"]
        assert http.get("/console/api/session").json()["csrfToken"] == session["csrfToken"]


@pytest.mark.parametrize(
    "body",
    [
        {"username": "alice", "password": "wrong password"},
        {"username": "nobody", "password": PASSWORD},
        {"username": "bob", "password": PASSWORD},  # an account without a password is no dispatcher
        {"username": "alice", "password": PASSWORD, "communityId": "another"},
    ],
)
def test_a_wrong_login_is_one_401_that_tells_nothing_and_sets_no_cookie(
    server: Server,
    community: Community,
    provision: Provisioner,
    alice: dict[str, str],
    body: dict[str, str],
) -> None:
    provision.account(community, "bob")
    with server.client() as http:
        answer = http.post(LOGIN, json={"communityId": community.community_id, **body})
        assert answer.status_code == 401
        assert answer.json()["detail"] == "Wrong community id, username or password."
        assert "set-cookie" not in answer.headers


def test_logins_are_throttled_per_username_and_address_never_locking_out_another_address(
    live: LiveServer, community: Community, alice: dict[str, str]
) -> None:
    # Two client addresses: loopback's 127.0.0.1 and 127.0.0.2.
    guesser = httpx.Client(base_url=live.url, transport=httpx.HTTPTransport(local_address="127.0.0.1"))
    dispatcher_elsewhere = httpx.Client(
        base_url=live.url, transport=httpx.HTTPTransport(local_address="127.0.0.2")
    )
    with guesser, dispatcher_elsewhere:
        codes = [
            guesser.post(LOGIN, json=login_body(community, password="wrong password")).status_code
            for _ in range(11)
        ]
        assert codes == [401] * 10 + [429]
        refused = guesser.post(LOGIN, json=login_body(community))  # from the guesser's address, even right
        wait = int(refused.headers["retry-after"])
        assert refused.status_code == 429 and 1 <= wait <= 60
        assert refused.json()["message"] == f"Too many login attempts from here; try again in {wait} s."
        # The dispatcher, elsewhere, is not locked out by someone guessing their password.
        assert dispatcher_elsewhere.post(LOGIN, json=login_body(community)).status_code == 200


def test_one_address_trying_many_usernames_is_throttled_too(
    server: Server, community: Community, alice: dict[str, str]
) -> None:
    with server.client() as http:
        codes = [
            http.post(LOGIN, json=login_body(community, username=f"user{n}", password="wrong")).status_code
            for n in range(61)
        ]
    assert codes == [401] * 60 + [429]


def test_every_change_needs_the_sessions_csrf_token_and_the_same_origin(
    server: Server, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    console = Console(server, community)
    token = console.session["csrfToken"]
    body = new_911(caller="From the console")
    path = f"{S1}/calls/911"
    before = provision.row_counts()
    for headers in (
        {"X-CSRF-Token": ""},
        {"X-CSRF-Token": token[:-1] + ("1" if token.endswith("0") else "0")},
        {"X-CSRF-Token": token, "Origin": "https://evil.example"},
        {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
    ):
        answer = console.http.post(path, json=body, headers=headers)
        assert answer.status_code == 403, (headers, answer.text)
    assert provision.row_counts() == before
    same_origin = console.http.post(path, json=body, headers={"Origin": server.origin})
    assert same_origin.status_code == 200, same_origin.text
    # A cross-site login is refused too (no login CSRF).
    with server.client() as http:
        assert (
            http.post(
                LOGIN, json=login_body(community), headers={"Origin": "https://evil.example"}
            ).status_code
            == 403
        )

    # Logging out needs the token too, and ends the session for good.
    console.http.headers.pop("X-CSRF-Token")
    assert console.post("/console/api/logout").status_code == 403
    assert console.http.post("/console/api/logout", headers={"X-CSRF-Token": token}).status_code == 204
    console.http.cookies.clear()
    console.http.cookies.set("od_console", "stolen-or-old", domain="127.0.0.1")
    assert console.get("/console/api/session").status_code == 401


def test_a_session_expires_after_a_shift(
    server: Server, community: Community, clock: ManualClock, alice: dict[str, str]
) -> None:
    console = Console(server, community)
    assert console.get(f"{C1}/board").status_code == 200
    clock.advance(seconds=sessions.SESSION_MS / 1000)
    assert console.get(f"{C1}/board").status_code == 401


# -- isolation -------------------------------------------------------------------------------------------


def test_a_dispatcher_reaches_nothing_of_another_community(
    server: Server, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    other = provision.community("Bravo", servers=1)
    dispatcher(provision, other, "mallory")
    with server.client(community.api_key) as api:
        emergency = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "1", "y": "2"})).json()["callId"]
        dispatch = api.post(f"{S1}/dispatch-calls", json=new_dispatch()).json()["callId"]
    before = provision.row_counts()
    mallory = Console(server, other, "mallory")
    assert mallory.get(f"{C1}/board").json()["emergencyCalls"] == []
    attempts = [
        mallory.get("/console/api/servers/2/board"),
        mallory.get(f"{C1}/calls/{emergency}"),
        mallory.get(f"{C1}/calls/{dispatch}"),
        mallory.get(f"{C1}/calls/{emergency}/draft"),
        mallory.get(f"{C1}/calls/{emergency}/nearest-units"),
        mallory.get(f"{S1}/calls/{emergency}/snapshot.png"),
        mallory.get(f"{S1}/dispatch-calls/{dispatch}/nearest-units"),
        mallory.get(f"{C1}/map/image"),
        mallory.delete(f"{S1}/calls/911/{emergency}"),
        mallory.patch(f"{S1}/dispatch-calls/{dispatch}", {"title": "Taken over"}),
        mallory.post(f"{S1}/dispatch-calls/{dispatch}/notes", {"note": "hi"}),
        mallory.post(f"{S1}/dispatch-calls/close", {"callIds": [dispatch]}),
        mallory.post(f"{C1}/dispatch-calls/{dispatch}/attach-nearest"),
        mallory.patch(f"{S1}/dispatch-calls/{dispatch}/primary", {"identId": -1}),
        mallory.post(f"{C1}/dispatch-calls", {**new_dispatch(), "sourceCallId": emergency}),
        mallory.post("/v2/emergency/servers/2/calls/911", new_911()),
    ]
    assert [answer.status_code for answer in attempts] == [404] * len(attempts), [a.text for a in attempts]
    assert provision.row_counts() == before
    # Its API key does not open this community's console stream either.
    with server.client(community.api_key) as http:
        assert http.get(f"{C1}/board").status_code == 401


# -- actions go through the API's services, authored by the dispatcher -----------------------------------


def test_every_console_action_is_stored_and_recorded_with_the_dispatchers_name(
    server: Server, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    first = place_unit(provision, community, server, name="One", unit_num="1A-01", x=10, y=10)
    second = place_unit(provision, community, server, name="Two", unit_num="1A-02", x=50, y=50)
    console = Console(server, community)
    placed = console.post(f"{S1}/calls/911", new_911(metaData={"x": "0", "y": "0", "postal": "9001"})).json()
    draft = console.get(f"{C1}/calls/{placed['callId']}/draft").json()
    made = console.post(f"{C1}/dispatch-calls", {**draft, "communityUserIds": []})
    assert made.status_code == 200, made.text
    call_id = made.json()["callId"]
    steps = [
        console.patch(f"{S1}/dispatch-calls/{call_id}", {"title": "Shots fired", "priority": 2}),
        console.post(f"{C1}/dispatch-calls/{call_id}/attach-nearest"),
        console.post(f"{S1}/dispatch-calls/{call_id}/attachments", {"identIds": [second]}),
        console.patch(f"{S1}/dispatch-calls/{call_id}/primary", {"identId": second}),
        console.patch(f"{S1}/units/status", {"identIds": [second], "status": 3}),
        console.post(f"{C1}/dispatch-calls/{call_id}/detachments", {"identIds": [first]}),
        console.post(f"{S1}/dispatch-calls/{call_id}/notes", {"note": "Window broken", "label": "1A-02"}),
        console.post(f"{S1}/dispatch-calls/close", {"callIds": [call_id]}),
        console.delete(f"{S1}/calls/911/{placed['callId']}"),
    ]
    assert [step.status_code for step in steps] == [200] * len(steps), [step.text for step in steps]
    assert steps[1].json() == {"callId": call_id, "identIds": [first]}  # the nearest one
    assert (
        console.post(f"{C1}/dispatch-calls/{call_id}/detachments", {"identIds": [first]}).status_code == 409
    )

    with server.client(community.api_key) as api:
        history = api.get(f"{S1}/dispatch-calls/{call_id}/history").json()
        closed = api.get(f"{S1}/calls").json()["closedCalls"][0]
    assert {entry["actor"]["name"] for entry in history["entries"]} == {"alice"}
    assert {entry["actor"]["type"] for entry in history["entries"]} == {"user"}
    actions = [entry["action"] for entry in history["entries"]]
    for action in (
        "created",
        "field_changed",
        "unit_attached",
        "primary_changed",
        "unit_status",
        "unit_detached",
        "note_added",
        "closed",
    ):
        assert action in actions
    assert (closed["title"], closed["priority"], closed["postal"]) == ("Shots fired", 2, "9001")
    assert closed["idents"] == [second] and closed["notes"][-1]["content"] == "Window broken"

    # The 911 call placed from the console carries the dispatcher's ids in its push event.
    data = provision.scalar("SELECT data FROM events WHERE type = 'EVENT_911'")
    event = json.loads(data)
    assert event["apiIds"] == ["license:dispatch-alice"]
    assert event["communityUserId"] == "license:dispatch-alice"


def test_console_answers_are_problems_with_the_api_status_codes(
    server: Server, community: Community, alice: dict[str, str]
) -> None:
    console = Console(server, community)
    assert console.post(f"{S1}/calls/911", {"caller": "x"}).status_code == 400
    assert console.get(f"{C1}/calls/999").status_code == 404
    call_id = console.post(f"{C1}/dispatch-calls", new_dispatch(metaData={})).json()["callId"]
    assert console.post(f"{S1}/dispatch-calls/close", {"callIds": [call_id]}).status_code == 200
    again = console.post(f"{S1}/dispatch-calls/close", {"callIds": [call_id]})
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert console.get(f"{C1}/calls/{call_id}/nearest-units").status_code == 409  # no x/y
    assert console.post(f"{C1}/dispatch-calls/{call_id}/attach-nearest").status_code == 409


# -- the live stream -------------------------------------------------------------------------------------


class CookieListener(Listener):
    """The SSE reader of the events tests, sending the console cookie instead of a key."""

    def __init__(self, server: LiveServer, cookie: str, last_event_id: int | None = None) -> None:
        self.cookie = cookie
        super().__init__(server, "unused", f"{C1}/events", last_event_id)

    def _read(self, url: str, headers: dict[str, str]) -> None:
        headers = {key: value for key, value in headers.items() if key != "Authorization"}
        headers["Cookie"] = f"od_console={self.cookie}"
        super()._read(url, headers)


def test_the_console_stream_follows_the_server_and_resumes_without_gaps(
    live: LiveServer, community: Community, alice: dict[str, str]
) -> None:
    console = Console(live, community)
    cookie = console.http.cookies["od_console"]
    with live.client() as anonymous:
        assert anonymous.get(f"{C1}/events").status_code == 401
    listener = CookieListener(live, cookie)
    assert listener.status == 200
    with live.client(community.api_key) as api:
        first = api.post(f"{S1}/calls/911", json=new_911(caller="First")).json()["callId"]
        (message,) = listener.wait_for(1)
        listener.close()
        missed = [
            api.post(f"{S1}/calls/911", json=new_911(caller=f"Missed {n}")).json()["callId"] for n in range(2)
        ]
    assert message[1] == "EVENT_911" and message[2]["call"]["callId"] == first
    resumed = CookieListener(live, cookie, last_event_id=message[0])
    got = resumed.wait_for(2)
    resumed.close()
    assert [item[2]["call"]["callId"] for item in got] == missed


# -- the v2 endpoints: snapshot.png and nearest-units ----------------------------------------------------


def test_a_snapshot_is_a_png_for_an_api_key_or_a_console_session(
    server: Server, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    with server.client(community.api_key) as api:
        located = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "425.1", "y": "-979.2"})).json()[
            "callId"
        ]
        nowhere = api.post(f"{S1}/calls/911", json=new_911(metaData={})).json()["callId"]
        answer = api.get(f"{S1}/calls/{located}/snapshot.png")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(answer.content)).convert("RGB")
        assert image.size == maps.SNAPSHOT_SIZE
        assert image.getpixel((image.width // 2, image.height // 2)) == maps.MARKER_COLOUR
        assert api.get(f"{S1}/calls/{nowhere}/snapshot.png").status_code == 409
        assert api.get(f"{S1}/calls/9999/snapshot.png").status_code == 404
        assert api.get(f"/v2/emergency/servers/7/calls/{located}/snapshot.png").status_code == 404
    with server.client() as anonymous:
        assert anonymous.get(f"{S1}/calls/{located}/snapshot.png").status_code == 401
        bad_key = anonymous.get(
            f"{S1}/calls/{located}/snapshot.png", headers={"Authorization": "Bearer od_nope"}
        )
        assert bad_key.status_code == 401
    console = Console(server, community)
    assert console.get(f"{S1}/calls/{located}/snapshot.png").content == answer.content


def test_snapshots_are_rate_limited_per_key(
    server: Server, community: Community, provision: Provisioner
) -> None:
    provision.set_limit(community, "snapshot", 2)
    with server.client(community.api_key) as api:
        call_id = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "1", "y": "1"})).json()["callId"]
        codes = [api.get(f"{S1}/calls/{call_id}/snapshot.png").status_code for _ in range(3)]
        assert codes == [200, 200, 429]


def test_a_snapshot_draws_the_servers_map_image(
    server: Server, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (30, 140, 60)).save(out, format="PNG")
    with provision.db.transaction() as conn:
        maps.set_map(
            conn,
            community_id=community.community_id,
            server_id=1,
            image=out.getvalue(),
            bounds=(-1000, 1000, 1000, -1000),
            now=1,
        )
    with server.client(community.api_key) as api:
        call_id = api.post(f"{S1}/calls/911", json=new_911(metaData={"x": "0", "y": "0"})).json()["callId"]
        shot = Image.open(io.BytesIO(api.get(f"{S1}/calls/{call_id}/snapshot.png").content)).convert("RGB")
    assert shot.getpixel((40, 40)) == (30, 140, 60)
    console = Console(server, community)
    board = console.get(f"{C1}/board").json()
    assert board["map"]["bounds"] == [-1000, 1000, 1000, -1000]
    image = console.get(board["map"]["imageUrl"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.content == out.getvalue()


def test_nearest_units_over_v2(server: Server, community: Community, provision: Provisioner) -> None:
    far = place_unit(provision, community, server, name="Far", unit_num="F", x=900, y=900)
    near = place_unit(provision, community, server, name="Near", unit_num="N", x=-10, y=5)
    place_unit(provision, community, server, name="Busy", unit_num="B", x=0, y=0, status=1)
    with server.client(community.api_key) as api:
        call_id = api.post(f"{S1}/dispatch-calls", json=new_dispatch(metaData={"x": "0", "y": "0"})).json()[
            "callId"
        ]
        emergency = api.post(f"{S1}/calls/911", json=new_911()).json()["callId"]
        answer = api.get(f"{S1}/dispatch-calls/{call_id}/nearest-units")
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        assert [unit["identId"] for unit in found["units"]] == [near, far]
        assert found["units"][0]["distance"] == 11.2 and found["units"][0]["unitNum"] == "N"
        assert (
            api.get(f"{S1}/dispatch-calls/{call_id}/nearest-units?limit=1").json()["units"][0]["identId"]
            == near
        )
        assert api.get(f"{S1}/dispatch-calls/{call_id}/nearest-units?limit=0").status_code == 400
        assert api.get(f"{S1}/dispatch-calls/{emergency}/nearest-units").status_code == 404  # a 911 call
    with server.client() as anonymous:
        assert anonymous.get(f"{S1}/dispatch-calls/{call_id}/nearest-units").status_code == 401


def test_the_board_pages_closed_calls_newest_first(
    server: Server, community: Community, alice: dict[str, str]
) -> None:
    console = Console(server, community)
    made = [
        console.post(f"{C1}/dispatch-calls", new_dispatch(title=f"Call {n}")).json()["callId"]
        for n in range(3)
    ]
    for call_id in made:
        assert console.post(f"{S1}/dispatch-calls/close", {"callIds": [call_id]}).status_code == 200
    board = console.get(f"{C1}/board", params={"closedLimit": 2, "closedOffset": 0}).json()
    assert board["closedCallCount"] == 3 and [call["callId"] for call in board["closedCalls"]] == made[:0:-1]
    older = console.get(f"{C1}/board", params={"closedLimit": 2, "closedOffset": 2}).json()
    assert [call["callId"] for call in older["closedCalls"]] == made[:1]
    assert console.get(f"{C1}/board", params={"closedLimit": 101}).status_code == 400


def test_a_server_with_one_community_asks_for_no_community_id(
    server: Server, community: Community, alice: dict[str, str]
) -> None:
    with server.client() as http:
        options = http.get(LOGIN).json()
        assert options == {
            "communityId": community.community_id,
            "communityName": "Alpha",
            "askCommunityId": False,
        }
        answer = http.post(LOGIN, json={"username": "alice", "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        assert answer.json()["communityId"] == community.community_id
        assert http.get("/console/api/session").status_code == 200


def test_with_several_communities_a_login_names_its_community(
    server: Server, provision: Provisioner, community: Community, alice: dict[str, str]
) -> None:
    bravo = provision.community("Bravo")
    dispatcher(provision, bravo, "bob")
    with server.client() as http:
        assert http.get(LOGIN).json() == {"communityId": None, "communityName": None, "askCommunityId": True}
        unnamed = http.post(LOGIN, json={"username": "bob", "password": PASSWORD})
        assert unnamed.status_code == 400
        assert [error["field"] for error in unnamed.json()["errors"]] == ["communityId"]
        assert "set-cookie" not in unnamed.headers
        named = http.post(
            LOGIN, json={"communityId": bravo.community_id, "username": "bob", "password": PASSWORD}
        )
        assert named.status_code == 200 and named.json()["communityName"] == "Bravo"
