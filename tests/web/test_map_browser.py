"""The console's map in a real browser: blips appear (and go) without a reload, a call placed only by its
postal is drawn there, and the postal search marks and centres a postal."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.maps.support import BLIPS, POSTALS, RESOURCE_POSTALS, blip_body
from tests.support import Community, LiveServer
from tests.web.support import S1
from tests.web.test_browser import log_in


def test_blips_and_a_searched_postal_are_drawn_on_the_map(
    page: Page, live: LiveServer, community: Community, alice: dict[str, str]
) -> None:
    with live.client(community.api_key) as api:
        assert api.put(POSTALS, json={"postals": RESOURCE_POSTALS}).status_code == 200
    log_in(page, live, community)

    # A blip made through the API shows up without a reload, sooner than the board's 5-second poll:
    # its change is an event of the console's live stream.
    with live.client(community.api_key) as api:
        created: dict[str, Any] = api.post(BLIPS, json=blip_body(tooltip="Roadblock", color="#ff0000")).json()
    blip = page.locator(f"#map g.blip[data-blip='{created['id']}']")
    expect(blip).to_be_visible(timeout=2500)
    expect(blip).to_contain_text("Roadblock")
    expect(blip.locator("polygon")).to_have_attribute("fill", "#ff0000")
    expect(blip.locator("title")).to_contain_text("Units 2")
    expect(page.locator("#map circle.blip-radius")).to_have_count(1)

    # A 911 call with only a postal is drawn at the postal.
    with live.client(community.api_key) as api:
        call = api.post(
            f"{S1}/calls/911",
            json={
                "isEmergency": True,
                "caller": "c",
                "location": "l",
                "description": "d",
                "metaData": {"postal": "8061"},
            },
        ).json()
    expect(page.locator(f"#map g[data-call='{call['callId']}']")).to_be_visible()
    page.click("#zoom-fit")

    # The postal search centres the map on the postal and marks it.
    page.fill("#postal-input", "9001")
    page.press("#postal-input", "Enter")
    pin = page.locator("#map g.postal-pin[data-postal='9001']")
    expect(pin).to_be_visible()
    expect(pin).to_contain_text("Postal 9001")
    centre = page.evaluate(
        """() => {
            const svg = document.querySelector('#map svg').getBoundingClientRect();
            const pin = document.querySelector("#map g.postal-pin circle").getBoundingClientRect();
            const across = pin.x + pin.width / 2 - svg.x - svg.width / 2;
            return [across, pin.y + pin.height / 2 - svg.y - svg.height / 2];
        }"""
    )
    assert abs(centre[0]) < 2 and abs(centre[1]) < 2, centre

    # An unknown postal says so and leaves the mark where it was.
    page.fill("#postal-input", "nowhere")
    page.press("#postal-input", "Enter")
    expect(page.locator("#toast")).to_contain_text("nowhere")
    expect(pin).to_be_visible()

    # Deleted, the blip goes from the map too.
    with live.client(community.api_key) as api:
        assert api.post(f"{BLIPS}/delete", json={"ids": [created["id"]]}).status_code == 200
    expect(blip).to_have_count(0, timeout=2500)
