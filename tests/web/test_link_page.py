"""The in-game link page and the heartbeat in the header, in a real browser against a live server."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support import Community, LiveServer
from tests.web.test_browser import log_in


def test_a_player_is_linked_from_the_url_the_game_server_was_given(
    page: Page, live: LiveServer, community: Community, alice: dict[str, str]
) -> None:
    with live.client(community.api_key) as api:
        code = api.post("/v2/general/links", json={"communityUserId": "4f0e3c0a9b1d"}).json()

    # Not logged in: the page says so and links nothing.
    page.goto(code["url"])
    expect(page.locator("#link-login")).to_be_visible()
    expect(page.locator("#link-submit")).to_be_disabled()

    log_in(page, live, community)
    page.goto(code["url"])
    expect(page.locator("#link-code")).to_have_value(code["code"])
    expect(page.locator("#link-who")).to_contain_text("alice")
    page.click("#link-submit")
    expect(page.locator("#link-done")).to_contain_text("4f0e3c0a9b1d")

    with live.client(community.api_key) as api:
        check = api.post("/v2/general/links/check", json={"communityUserId": "4f0e3c0a9b1d"}).json()
    assert check == {"linked": True, "accountUuid": alice["uuid"], "communityUserId": "4f0e3c0a9b1d"}

    # A code works once: the page shows why.
    page.reload()
    page.click("#link-submit")
    expect(page.locator("#link-error")).to_contain_text("expired")


def test_the_header_shows_the_servers_last_heartbeat(
    page: Page, live: LiveServer, community: Community, alice: dict[str, str]
) -> None:
    log_in(page, live, community)
    expect(page.locator("#heartbeat")).to_have_text("No heartbeat yet")
    with live.client(community.api_key) as api:
        assert api.post("/v2/general/servers/1/heartbeat", json={"playerCount": 12}).status_code == 200
    page.reload()
    expect(page.locator("#heartbeat")).to_contain_text("12 players")
