"""The admin pages' servers, API keys, and plan and limits in a real browser (Debian's Chromium).

An admin acts through the page only; the outcome is checked through the real sonoran-py SDK and the
API, and every action shows in the audit section. The screenshots for docs/admin.md are written here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sonoran import Instance, productEnums

from opendispatch.settings import Settings
from tests.support import Community, LiveServer, ManualClock, Provisioner, live_server
from tests.web.support import CHROMIUM, CHROMIUM_ARGS, SAMPLE_MAP_BOUNDS, admin, sample_map_png
from tests.web.test_browser import SCREENSHOT_START_MS, keep_or_write, log_in

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
def live(uncached_settings: Settings, provision: Provisioner, clock: ManualClock) -> Iterator[LiveServer]:
    """The server with the key cache off: a key revoked in the page is refused on the very next request."""
    with live_server(uncached_settings, clock) as running:
        yield running


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium for this module only: Playwright's event loop must be gone before the tests after
    it (tests/api runs asyncio.run, which refuses to start inside a running loop)."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def tab(chromium: Browser, live: LiveServer) -> Iterator[Page]:
    """A fresh page, as the console tests' (fixed size, time zone and locale: the screenshots are steady)."""
    context = chromium.new_context(
        viewport={"width": 1600, "height": 1000}, timezone_id="UTC", locale="en-GB"
    )
    opened = context.new_page()
    opened.set_default_timeout(5000)
    yield opened
    context.close()


def cad(live: LiveServer, api_key: str, community: Community) -> Any:
    """The official Python SDK, unmodified, pointed at the live server."""
    instance = Instance(
        apiKey=api_key,
        communityId=community.community_id,
        product=productEnums.CAD,
        serverId=1,
        cadApiUrl=live.url,
    )
    assert instance.cad is not None
    return instance.cad


def open_admin(page: Page, live: LiveServer, community: Community) -> None:
    log_in(page, live, community, "root")
    page.goto(f"{live.url}/console/admin")
    page.wait_for_selector("body[data-ready]", state="attached")
    expect(page.locator("#admin")).to_be_visible()


def calm(page: Page) -> None:
    """No toast and no hovered row in a screenshot."""
    page.mouse.move(0, 0)
    page.evaluate("document.querySelector('#admin-toast').hidden = true")


def audited(page: Page) -> list[str]:
    return [row.get_attribute("data-action") or "" for row in page.locator("#audit-table tbody tr").all()]


def steady(provision: Provisioner, community: Community) -> None:
    """The provisioned key's creation at the screenshots' fixed evening, so the pictures do not drift."""
    with provision.db.transaction() as conn:
        conn.exec_driver_sql(
            f"UPDATE api_keys SET created_at = {SCREENSHOT_START_MS - 86_400_000} "
            f"WHERE community_id = '{community.community_id}'"
        )


def test_an_admin_creates_a_key_the_sdk_uses_then_revokes_it(
    tab: Page, live: LiveServer, community: Community, provision: Provisioner, clock: ManualClock
) -> None:
    page = tab
    clock.ms = SCREENSHOT_START_MS
    admin(provision, community)
    steady(provision, community)
    page.on("dialog", lambda dialog: dialog.accept())  # "Revoke the key …?"
    open_admin(page, live, community)

    page.fill("#key-label", "discord bot")
    page.click("#key-create button[type=submit]")
    shown = page.locator("#keys-once .secret")
    expect(shown).to_be_visible()
    api_key = shown.inner_text().strip()
    assert api_key.startswith("od_")
    row = page.locator(f"#keys-table tr[data-prefix='{api_key[:7]}']")
    expect(row).to_contain_text("discord bot")

    sdk = cad(live, api_key, community)
    info = sdk.getInfoV2()
    assert info.success, info.reason
    assert info.data["community"]["comId"] == community.community_id
    created = sdk.createEmergencyCallV2(
        {"serverId": 1, "isEmergency": True, "caller": "Ann", "location": "Alta St", "description": "Smoke"}
    )
    assert created.success, created.reason

    page.click("#keys-revoked")  # the list again, revoked keys too: "last used" now shows the SDK's use
    expect(row.locator(".last-used")).not_to_have_text("never")
    calm(page)
    keep_or_write(
        IMAGES / "admin-keys.png",
        page.locator("#keys").screenshot(
            mask=[page.locator("#keys-table code"), shown], mask_color="#2a3545"
        ),
    )

    row.locator("button.revoke").click()
    expect(row.locator("button.revoke")).to_have_count(0)
    refused = sdk.getInfoV2()
    assert refused.success is False
    with live.client(api_key) as api:
        assert api.get("/v2/general/info").status_code == 401
    with live.client(community.api_key) as api:  # the community's other key is untouched
        assert api.get("/v2/general/info").status_code == 200

    expect(page.locator("#audit-table tbody tr")).to_have_count(2)
    assert audited(page) == ["key.revoke", "key.create"]
    assert api_key not in page.locator("#audit").inner_text()


def test_an_admin_runs_servers_plan_and_limits_from_the_page(
    tab: Page,
    live: LiveServer,
    community: Community,
    provision: Provisioner,
    clock: ManualClock,
    tmp_path: Path,
) -> None:
    page = tab
    clock.ms = SCREENSHOT_START_MS
    admin(provision, community)
    steady(provision, community)
    with live.client(community.api_key) as api:
        assert api.post("/v2/general/servers/1/heartbeat", json={"playerCount": 24}).status_code == 200
    open_admin(page, live, community)
    first = page.locator(".admin-server[data-server-id='1']")
    expect(first.locator(".players")).to_have_text("24")

    first.locator("input[name=name]").fill("Los Santos")
    first.locator("form.row button[type=submit]").first.click()
    expect(page.locator("#audit-table tbody tr")).to_have_count(1)

    first.locator("input[name=url]").fill("http://127.0.0.1:9/sonorancad/event")
    first.locator("select[name=shape]").select_option("object")
    first.locator(".push-form button[type=submit]").click()
    once = page.locator("#servers-once .secret")
    expect(once).to_contain_text("whsec_")
    expect(once).to_contain_text("receiver's API key: od_")
    page.locator("#servers-once button").click()
    first = page.locator(".admin-server[data-server-id='1']")
    first.locator("button.rotate").click()
    expect(page.locator("#servers-once .secret")).to_contain_text("whsec_")
    page.locator("#servers-once button").click()
    first.locator("button.show-log").click()
    expect(first.locator(".delivery-log")).to_contain_text("No delivery attempts yet.")

    image = tmp_path / "city.png"
    image.write_bytes(sample_map_png())
    first.locator("input[name=image]").set_input_files(str(image))
    first.locator("input[name=bounds]").fill(",".join(str(value) for value in SAMPLE_MAP_BOUNDS))
    first.locator(".map-image-form button").click()
    expect(page.locator(".admin-server[data-server-id='1'] .map-now")).to_contain_text("1200×1000")

    postals = tmp_path / "new-postals.json"
    postals.write_text(
        json.dumps([{"code": "100", "x": 425.1, "y": -979.2}, {"code": "101", "x": 0, "y": 0}])
    )
    page.locator(".postal-form input[type=file]").set_input_files(str(postals))
    page.locator(".postal-form button").click()
    expect(page.locator(".postal-count")).to_contain_text("2 postals")

    # The API the in-game resource reads sees the admin's changes.
    with live.client(community.api_key) as api:
        server = api.get("/v2/general/servers").json()["servers"][0]
        assert server["name"] == "Los Santos" and server["pushUrl"].endswith("/sonorancad/event")
        assert server["pushShape"] == "object"

    limit_row = page.locator("#limits-table tr[data-operation='get_calls']")
    limit_row.locator("input").fill("1")
    limit_row.locator("button.set-limit").click()
    limit_row = page.locator("#limits-table tr[data-operation='get_calls']")
    expect(limit_row.locator(".applies")).to_have_text("1")
    with live.client(community.api_key) as api:
        assert api.get("/v2/emergency/servers/1/calls").status_code == 200
        assert api.get("/v2/emergency/servers/1/calls").status_code == 429
    page.select_option("#plan", "PLUS")
    page.click("#community-form button[type=submit]")
    expect(page.locator("#audit-table tbody tr")).to_have_count(7)
    calm(page)
    keep_or_write(IMAGES / "admin-limits.png", page.locator("#limits").screenshot())
    page.locator("#limits-table tr[data-operation='get_calls'] button.clear-limit").click()
    expect(page.locator("#limits-table tr[data-operation='get_calls'] .applies")).to_have_text("3")
    page.uncheck("#api-enabled")
    page.click("#community-form button[type=submit]")
    expect(page.locator("#audit-table tbody tr")).to_have_count(9)
    with live.client(community.api_key) as api:
        assert api.get("/v2/general/info").status_code == 403  # the API switched off

    assert audited(page) == [
        "community.set",
        "limit.clear",
        "community.set",
        "limit.set",
        "postals.set",
        "map.set",
        "push.rotate_secret",
        "push.create",
        "server.rename",
    ]
    calm(page)
    keep_or_write(
        IMAGES / "admin-servers.png",
        page.locator("#servers").screenshot(),
    )
    # The receiver key's prefix is random: written as od_xxxx, so the picture stays the same from run to run.
    page.evaluate(
        "for (const cell of document.querySelectorAll('#audit-table td'))"
        " cell.textContent = cell.textContent.replace(/od_[A-Za-z0-9_-]{4}/g, 'od_xxxx')"
    )
    keep_or_write(IMAGES / "admin-audit.png", page.locator("#audit").screenshot())
