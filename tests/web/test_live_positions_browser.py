"""Units move on the console's map as the game server reports them over the hub, and fade when stale."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from opendispatch.settings import Settings
from tests.hub.node import run_client
from tests.support import Community, LiveServer, ManualClock, Provisioner
from tests.web.support import place_unit
from tests.web.test_browser import log_in


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Positions from the hub are saved only after a minute here: what moves the marker is the stream.
    return Settings(database_url=database_url, position_save_seconds=60, position_stale_seconds=30)


def test_a_unit_moved_over_the_hub_moves_on_the_map_with_its_heading_then_turns_stale(
    page: Page,
    live: LiveServer,
    provision: Provisioner,
    community: Community,
    alice: dict[str, str],
    clock: ManualClock,
) -> None:
    ident = place_unit(provision, community, live, name="Ada Lane", unit_num="1A-01", x=0.0, y=0.0)
    log_in(page, live, community)
    marker = page.locator(f"#map g.unit[data-unit='{ident}']")
    expect(marker).to_have_attribute("data-x", "0")
    expect(marker.locator("polygon.unit-heading")).to_have_count(0)  # placed with no heading

    report = {
        "identId": ident,
        "location": "Alta St",
        "coordinates": {"x": 150.5, "y": -300, "z": 0, "w": 90},
    }
    outcomes = run_client(
        f"{live.url}/apiWsHub",
        [
            {"op": "start"},
            {
                "op": "invoke",
                "method": "authenticatev2",
                "args": [community.community_id, community.api_key, 1],
            },
            {"op": "invoke", "method": "unitLocation", "args": [[report]]},
        ],
    )
    assert outcomes[2]["result"] == {"success": True, "error": None, "count": 1}
    # Well before the board's 5-second read, and with nothing saved yet: the stream moved it.
    expect(marker).to_have_attribute("data-x", "150.5", timeout=2000)
    expect(marker).to_have_attribute("data-y", "-300")
    # The game's heading 90 (west) is a quarter turn counter-clockwise on screen.
    expect(marker.locator("polygon.unit-heading")).to_have_attribute(
        "transform", re.compile(r"^rotate\(-90 ")
    )
    expect(marker).not_to_have_class("marker unit status-2 stale")

    # The board's next reads (which still hold the saved 0,0) do not pull the marker back, and once the
    # console knows the server's time moved on, the unit is drawn stale.
    clock.advance(seconds=45)  # the server's time: the last report is now older than the stale age
    expect(marker).to_have_class("marker unit status-2 stale", timeout=8000)
    expect(marker).to_have_attribute("data-x", "150.5")
    expect(marker.locator("title")).to_contain_text("position")
