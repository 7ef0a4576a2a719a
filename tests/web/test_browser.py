"""The console in a real browser (Debian's Chromium driven by Playwright) against a live server.

Each story acts through the page only and checks the outcome through the v2 API afterwards.
"""

from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops
from playwright.sync_api import Page, expect

from opendispatch.calls import service as calls
from opendispatch.calls.schemas import NewEmergencyCall
from opendispatch.cli import console_link
from opendispatch.history.schemas import Actor
from opendispatch.settings import Settings
from opendispatch.web import maps
from tests.support import Community, LiveServer, ManualClock, Provisioner
from tests.web.support import (
    PASSWORD,
    S1,
    SAMPLE_MAP_BOUNDS,
    RestartedServer,
    dispatcher,
    place_unit,
    sample_map_png,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def log_in(page: Page, live: LiveServer, community: Community, username: str = "alice") -> None:
    page.goto(f"{live.url}/console")
    page.wait_for_selector("#login-form[data-ready]", state="attached")
    if page.is_visible("#login-community"):  # only asked while the server holds several communities
        page.fill("#login-community", community.community_id)
    page.fill("#login-username", username)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#live")).to_have_attribute("data-state", "live")


def api_911(live: LiveServer, community: Community, **fields: Any) -> dict[str, Any]:
    body = {
        "isEmergency": True,
        "caller": "Jane Doe",
        "location": "Alta St / Integrity Way",
        "description": "Shots fired behind the bank",
        "metaData": {"x": "425.1", "y": "-979.2", "postal": "9001", "code": "10-71", "priority": "1"},
    }
    body.update(fields)
    with live.client(community.api_key) as api:
        answer = api.post(f"{S1}/calls/911", json=body)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())


def test_a_call_worked_end_to_end_from_the_board(
    page: Page, live: LiveServer, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    unit = place_unit(provision, community, live, name="Bravo", unit_num="1A-07", x=400.0, y=-950.0)
    log_in(page, live, community)

    # A 911 call made through the API shows up without a reload, within two seconds.
    before = page.evaluate("document.body.dataset.alerts || '0'")
    started = time.monotonic()
    emergency = api_911(live, community)
    card = page.locator(f"#queue [data-call='{emergency['callId']}']")
    expect(card).to_be_visible(timeout=2000)
    assert time.monotonic() - started < 2
    expect(card).to_contain_text("EMERGENCY")
    expect(card).to_contain_text("Jane Doe")
    expect(page.locator("body")).not_to_have_attribute("data-alerts", before)  # the alert was raised

    # It becomes a dispatch call, pre-filled from its metaData and linked to it.
    card.click()
    expect(page.locator("#detail")).to_contain_text("Shots fired behind the bank")
    page.keyboard.press("d")
    form = page.locator("form[data-form='dispatch']")
    expect(form.locator("[name=postal]")).to_have_value("9001")
    expect(form.locator("[name=code]")).to_have_value("10-71")
    expect(form.locator("[name=priority]")).to_have_value("1")
    form.locator("[name=title]").fill("Shots fired")
    form.locator("button[type=submit]").click()
    expect(form).to_be_hidden()
    row = page.locator("#active tr[data-call]").first
    expect(row).to_contain_text("Shots fired")
    dispatch_id = int(row.get_attribute("data-call") or "0")
    expect(page.locator(f"#queue [data-call='{emergency['callId']}']")).to_have_count(0)  # removed

    # A unit is attached (the nearest available one, by its reported position).
    expect(page.locator("#detail-nearest")).to_contain_text("1A-07")
    page.click("#act-attach")
    page.locator("form[data-form='attach'] label", has_text="1A-07").locator("input").check()
    page.click("form[data-form='attach'] button[type=submit]")
    expect(page.locator("#detail-units")).to_contain_text("1A-07")
    expect(page.locator("#detail-units")).to_contain_text("PRIMARY")
    expect(row.locator(".attached")).to_contain_text("1A-07")

    # A note is added.
    page.keyboard.press("n")
    page.fill("form[data-form='note'] [name=note]", "Suspect fled north on foot")
    page.click("form[data-form='note'] button[type=submit]")
    expect(page.locator("#detail-notes")).to_contain_text("Suspect fled north on foot")

    # The call is closed.
    page.keyboard.press("x")
    page.click("form[data-form='confirm'] button[type=submit]")
    expect(page.locator("#active tr[data-call]")).to_have_count(0)
    expect(page.locator(f"#closed tr[data-call='{dispatch_id}']")).to_be_visible()

    # Every step is stored, and the history names the dispatcher.
    with live.client(community.api_key) as api:
        board = api.get(f"{S1}/calls").json()
        history = api.get(f"{S1}/dispatch-calls/{dispatch_id}/history").json()
    assert board["emergencyCalls"] == [] and board["activeCalls"] == []
    (closed,) = board["closedCalls"]
    assert closed["callId"] == dispatch_id
    assert (closed["postal"], closed["code"], closed["priority"]) == ("9001", "10-71", 1)
    assert closed["address"] == "Alta St / Integrity Way"
    assert closed["idents"] == [unit] and closed["primary"] == unit
    assert [note["content"] for note in closed["notes"]][-1] == "Suspect fled north on foot"
    assert closed["metaData"]["x"] == "425.1"
    actions = [(entry["action"], entry["actor"]) for entry in history["entries"]]
    assert ("created", {"type": "user", "name": "alice"}) in actions
    assert ("unit_attached", {"type": "user", "name": "alice"}) in actions
    assert ("note_added", {"type": "user", "name": "alice"}) in actions
    assert ("closed", {"type": "user", "name": "alice"}) in actions
    assert history["entries"][0]["details"]["sourceCallId"] == emergency["callId"]


def test_another_communitys_dispatcher_sees_and_reaches_nothing_of_this_one(
    page: Page, live: LiveServer, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    other = provision.community("Bravo County", servers=1)
    dispatcher(provision, other, "mallory")
    mine = api_911(live, community, caller="Only Alpha sees this")
    log_in(page, live, other, "mallory")

    expect(page.locator("#community-name")).to_have_text("Bravo County")
    expect(page.locator("#server-select option")).to_have_count(1)
    page.wait_for_timeout(300)
    expect(page.locator("#queue")).not_to_contain_text("Only Alpha sees this")
    expect(page.locator("#queue [data-call]")).to_have_count(0)

    # The API behind the page answers 404 for the other community's server and call, and the same
    # for a server this community does not have.
    def call(method: str, path: str, body: Any = None) -> int:
        status: int = page.evaluate(
            """async ([method, path, body]) => {
                const session = await (await fetch('/console/api/session')).json();
                const headers = {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken};
                const sent = body === null ? undefined : JSON.stringify(body);
                const answer = await fetch(path, {method, headers, body: sent});
                return answer.status;
            }""",
            [method, path, body],
        )
        return status

    call_id = mine["callId"]
    assert call("GET", "/console/api/servers/2/board") == 404  # Alpha has server 2, Bravo does not
    assert call("GET", f"/console/api/servers/1/calls/{call_id}") == 404
    assert call("GET", f"/console/api/servers/1/calls/{call_id}/draft") == 404
    assert call("DELETE", f"/v2/emergency/servers/1/calls/911/{call_id}") == 404
    assert call("GET", f"/v2/emergency/servers/1/calls/{call_id}/snapshot.png") == 404
    with live.client(community.api_key) as api:
        assert [c["callId"] for c in api.get(f"{S1}/calls").json()["emergencyCalls"]] == [call_id]


def dispatch_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "origin": 0,
        "status": 1,
        "priority": 2,
        "block": "",
        "address": "",
        "postal": "",
        "title": "",
        "code": "",
        "description": "",
        "notes": [],
        "communityUserIds": [],
    }
    body.update(fields)
    return body


SCREENSHOT_START_MS = 1_775_676_000_000  # 2026-04-08T19:20:00Z


def keep_or_write(path: Path, png: bytes) -> None:
    """Write the screenshot unless the one there looks the same (Chromium's rasteriser may move a
    few pixels by one level between runs; that is not a reason to change the file in the docs)."""
    if path.exists():
        before = Image.open(path).convert("RGB")
        after = Image.open(io.BytesIO(png)).convert("RGB")
        if before.size == after.size:
            changed = ImageChops.difference(before, after).convert("L").point(lambda v: 255 if v > 8 else 0)
            if changed.getbbox() is None:
                return
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(png)


def test_the_board_with_sample_data_is_screenshotted_for_the_docs(
    page: Page,
    live: LiveServer,
    community: Community,
    provision: Provisioner,
    clock: ManualClock,
    alice: dict[str, str],
) -> None:
    # A fixed evening for the server and a stopped clock in the page: the picture is the same every run,
    # so docs/console.png only changes when the console does.
    clock.ms = SCREENSHOT_START_MS
    with provision.db.transaction() as conn:
        maps.set_map(
            conn,
            community_id=community.community_id,
            server_id=1,
            image=sample_map_png(),
            bounds=SAMPLE_MAP_BOUNDS,
            now=clock.now_ms(),
        )
    people = [
        ("Adam Ross", "1A-01", 310.0, -860.0, 2),
        ("Bea Kim", "1A-02", 520.0, -1110.0, 2),
        ("Cal Ortiz", "2B-11", -120.0, -640.0, 3),
        ("Dee Hart", "2B-14", 90.0, -1290.0, 4),
        ("Eli Stone", "K9-3", -380.0, -1010.0, 2),
        ("Fay Moss", "3C-20", 760.0, -450.0, 2),
        ("Gus Webb", "3C-21", None, None, 0),
    ]
    units = [
        place_unit(provision, community, live, name=name, unit_num=num, x=x, y=y, status=status)
        for name, num, x, y, status in people
    ]
    with live.client(community.api_key) as api:
        for title, code, address in (
            ("Traffic stop", "10-38", "Route 68"),
            ("Noise complaint", "415", "Grove St"),
        ):
            old = api.post(
                f"{S1}/dispatch-calls", json=dispatch_body(title=title, code=code, address=address)
            )
            clock.advance(minutes=7)
            api.post(f"{S1}/dispatch-calls/close", json={"callIds": [old.json()["callId"]]})
        fire = api.post(
            f"{S1}/dispatch-calls",
            json=dispatch_body(
                status=0,
                address="Alta St",
                postal="7024",
                title="Structure Fire",
                code="10-70",
                description="Smoke from the second floor.",
                metaData={"x": "-150.5", "y": "-700.0", "radius": "60"},
            ),
        ).json()
        api.post(f"{S1}/dispatch-calls/{fire['callId']}/attachments", json={"identIds": [units[2]]})
        clock.advance(minutes=4, seconds=12)
        robbery = api.post(
            f"{S1}/dispatch-calls",
            json=dispatch_body(
                priority=1,
                block="100",
                address="Mission Row",
                postal="9001",
                title="Armed Robbery",
                code="211",
                description="Clerk reports a firearm; suspect left on foot towards the park.",
                notes=[{"label": "Caller", "type": "text", "content": "Suspect in a grey hoodie"}],
                metaData={"x": "425.1", "y": "-979.2", "radius": "120"},
            ),
        ).json()
        api.post(f"{S1}/dispatch-calls/{robbery['callId']}/attachments", json={"identIds": units[:2]})
        api.patch(f"{S1}/units/status", json={"identIds": [units[0]], "status": 4})
        api.patch(f"{S1}/units/status", json={"identIds": [units[1]], "status": 3})
        api.patch(f"{S1}/units/panic", json={"identIds": [units[3]], "isPanic": True})
        # A blip of the community's own, and a postal list that places the civil call below by its postal.
        roadblock = {"coordinates": {"x": 180.0, "y": -330.0}, "color": "#f97316", "tooltip": "Road closed"}
        api.post(f"{S1}/blips", json={**roadblock, "radius": 70})
        api.put("/v2/general/postals", json={"postals": [{"code": "1004", "x": -560.0, "y": -470.0}]})
        clock.advance(minutes=2, seconds=40)
    api_911(
        live,
        community,
        caller="Marco Diaz",
        description="Two cars collided, one driver trapped",
        location="Vespucci Blvd / Palomino Ave",
        metaData={"x": "-260.0", "y": "-1180.0", "postal": "8150"},
    )
    clock.advance(minutes=1, seconds=5)
    api_911(
        live,
        community,
        isEmergency=False,
        caller="Lena Park",
        description="Loud music next door",
        location="Grove St",
        metaData={"postal": "1004"},
    )
    clock.advance(seconds=38)
    api_911(live, community, metaData={"x": "640.0", "y": "-760.0", "postal": "9021", "code": "10-71"})
    clock.advance(seconds=9)

    page.clock.set_fixed_time(clock.now_ms() / 1000)
    log_in(page, live, community)
    page.locator(f"#active [data-call='{robbery['callId']}']").click()
    expect(page.locator("#detail-units")).to_contain_text("1A-02")
    expect(page.locator("#detail img.snapshot")).to_be_visible()
    # (wait_for_function would evaluate a string in the page, which its CSP forbids: expect polls instead)
    expect(page.locator("#detail img.snapshot")).to_have_js_property("naturalWidth", 512)
    expect(page.locator("#map image")).to_have_count(1)
    expect(page.locator("#units tr.panic")).to_contain_text("PANIC")
    expect(page.locator("#closed tr[data-call]")).to_have_count(2)
    page.wait_for_timeout(300)  # the map image paints
    shot = page.screenshot()
    assert len(shot) > 10_000
    keep_or_write(DOCS / "console.png", shot)
    assert re.fullmatch(r"\d+s", page.locator("#queue .age").first.inner_text())


def test_the_other_actions_from_the_keyboard_and_the_buttons(
    page: Page, live: LiveServer, community: Community, provision: Provisioner, alice: dict[str, str]
) -> None:
    first = place_unit(provision, community, live, name="Ann", unit_num="1A-01", x=0.0, y=0.0)
    second = place_unit(provision, community, live, name="Ben", unit_num="1A-02", x=5.0, y=5.0)
    log_in(page, live, community)

    # Create a 911 call from the console.
    page.keyboard.press("9")
    form = page.locator("form[data-form='new-911']")
    form.locator("[name=caller]").fill("Walk-in caller")
    form.locator("[name=location]").fill("Front desk")
    form.locator("[name=description]").fill("Lost wallet")
    form.locator("[name=isEmergency]").uncheck()
    form.locator("[name=x]").fill("10")
    form.locator("[name=y]").fill("20")
    form.locator("button[type=submit]").click()
    card = page.locator("#queue .card", has_text="Walk-in caller")
    expect(card).to_contain_text("CIVIL")
    placed = int(card.get_attribute("data-call") or "0")

    # A blank dispatch call with both units, then edit it, change the primary, detach one unit.
    page.click("#new-dispatch")
    form = page.locator("form[data-form='dispatch']")
    form.locator("[name=title]").fill("Welfare check")
    form.locator("[name=code]").fill("10-52")
    form.locator("label", has_text="1A-01").locator("input").check()
    form.locator("label", has_text="1A-02").locator("input").check()
    form.locator("button[type=submit]").click()
    expect(page.locator("#detail-units li")).to_have_count(2)
    call_id = int(page.locator("#active tr[data-call]").first.get_attribute("data-call") or "0")
    page.keyboard.press("e")
    page.locator("form[data-form='edit'] [name=title]").fill("Welfare check, elderly man")
    page.locator("form[data-form='edit'] [name=priority]").select_option("3")
    page.click("form[data-form='edit'] button[type=submit]")
    expect(page.locator("#detail h3")).to_contain_text("Welfare check, elderly man")
    page.locator(f"#detail-units li[data-unit='{second}'] button", has_text="Make primary").click()
    expect(page.locator(f"#detail-units li[data-unit='{second}']")).to_contain_text("PRIMARY")
    page.locator(f"#detail-units li[data-unit='{first}'] button", has_text="Detach").click()
    expect(page.locator("#detail-units li")).to_have_count(1)

    # Change a unit's status from the units table.
    page.locator(f"#units tr[data-unit='{second}'] select").select_option("4")
    expect(page.locator(f"#units tr[data-unit='{second}'] select")).to_have_value("4")

    # Remove the 911 call: select it with the keyboard (newest first, it is the first) and press r.
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(page.locator("#detail")).to_contain_text(f"911 call #{placed}")
    page.keyboard.press("r")
    page.click("form[data-form='confirm'] button[type=submit]")
    expect(page.locator("#queue [data-call]")).to_have_count(0)

    with live.client(community.api_key) as api:
        board = api.get(f"{S1}/calls").json()
        units = {unit["id"]: unit for unit in api.get(f"{S1}/units?includeOffline=true").json()}
        history = api.get(f"{S1}/dispatch-calls/{call_id}/history").json()
    assert board["emergencyCalls"] == []
    (call,) = board["activeCalls"]
    assert (call["title"], call["code"], call["priority"]) == ("Welfare check, elderly man", "10-52", 3)
    assert call["idents"] == [second] and call["primary"] == second
    assert units[second]["status"] == 4 and first not in call["idents"]
    assert {entry["actor"]["name"] for entry in history["entries"]} == {"alice"}
    placed_event = provision.scalar(
        f"SELECT data FROM events WHERE type = 'EVENT_911' AND data LIKE '%{placed}%'"
    )
    assert '"apiIds":["license:dispatch-alice"]' in placed_event


def test_help_overlay_map_markers_mute_and_ticking_ages(
    page: Page, live: LiveServer, community: Community, clock: ManualClock, alice: dict[str, str]
) -> None:
    page.clock.install()  # the page's clock runs as usual, and the test can move it on
    log_in(page, live, community)
    page.keyboard.press("?")
    expect(page.locator("#help")).to_be_visible()
    expect(page.locator("#help")).to_contain_text("Attach the nearest available unit")
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()

    located = api_911(live, community, caller="On the map", metaData={"x": "100", "y": "100", "radius": "50"})
    marker = page.locator(f"#map g[data-call='{located['callId']}']")
    expect(marker).to_be_visible()
    page.click("#zoom-fit")
    marker.locator("circle").click()
    expect(page.locator("#detail")).to_contain_text(f"911 call #{located['callId']}")
    expect(page.locator("#detail img.snapshot")).to_be_visible()

    # Muted, a new emergency call is still flagged on the page but makes no sound.
    page.keyboard.press("m")
    expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    raised = int(page.evaluate("document.body.dataset.alerts || '0'"))
    played = page.evaluate("document.body.dataset.alertsPlayed || '0'")
    api_911(live, community, caller="Silent alert")
    expect(page.locator("body")).to_have_attribute("data-alerts", str(raised + 1))
    assert page.evaluate("document.body.dataset.alertsPlayed || '0'") == played

    # Ages tick on their own: 75 seconds later (on the server and in the page) the call says so.
    age = page.locator(f"#queue [data-call='{located['callId']}'] .age")
    expect(age).to_have_text(re.compile(r"\d+s"))
    clock.advance(seconds=75)
    page.clock.fast_forward(75_000)
    expect(age).to_have_text(re.compile(r"1m 1\ds"))


def test_the_board_catches_up_after_the_connection_drops(
    page: Page,
    live: LiveServer,
    settings: Settings,
    clock: ManualClock,
    community: Community,
    provision: Provisioner,
    alice: dict[str, str],
) -> None:
    log_in(page, live, community)
    live.stop()  # the live stream drops with the server
    expect(page.locator("#live")).not_to_have_attribute("data-state", "live")
    # Calls come in while the console is cut off (written straight through the service).
    with provision.db.transaction() as conn:
        missed = [
            calls.open_emergency_call(
                conn,
                community_id=community.community_id,
                server_id=1,
                call=NewEmergencyCall(isEmergency=True, caller=f"Missed {n}", location="l", description="d"),
                now=clock.now_ms(),
                actor=Actor("apiKey", "key#1"),
            ).callId
            for n in range(2)
        ]
    restarted = RestartedServer(settings, clock, live.port).start()
    try:
        expect(page.locator("#live")).to_have_attribute("data-state", "live", timeout=10_000)
        for call_id in missed:
            expect(page.locator(f"#queue [data-call='{call_id}']")).to_be_visible()
        later = api_911(restarted, community, caller="After the reconnect")  # and it is live again
        expect(page.locator(f"#queue [data-call='{later['callId']}']")).to_be_visible(timeout=2000)
    finally:
        page.context.close()
        restarted.stop()


def test_the_login_asks_for_a_community_id_only_when_the_server_holds_several(
    page: Page, live: LiveServer, provision: Provisioner, community: Community, alice: dict[str, str]
) -> None:
    page.goto(f"{live.url}/console")
    expect(page.locator("#login-community-name")).to_have_text("Alpha")
    expect(page.locator("#login-community")).to_be_hidden()
    page.fill("#login-username", "alice")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#app")).to_be_visible()

    # A second community: the host hands each one a link that fills its id in.
    bravo = provision.community("Bravo")
    page.context.clear_cookies()
    page.goto(f"{live.url}{console_link(bravo.community_id)}")
    expect(page.locator("#login-community")).to_be_visible()
    expect(page.locator("#login-community")).to_have_value(bravo.community_id)
    expect(page.locator("#login-community-name")).to_be_hidden()
