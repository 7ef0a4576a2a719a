"""The admin pages and a member's own page in a real browser (Debian's Chromium driven by Playwright).

An admin invites a member, the member joins and keeps a unit, and a call for the member reaches it; a
member who reaches the admin pages is turned away. The screenshots in docs/images/ are written here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.admin.support import member
from tests.support import Community, LiveServer, ManualClock, Provisioner, new_dispatch
from tests.web.support import PASSWORD, S1, admin, dispatcher
from tests.web.test_browser import SCREENSHOT_START_MS, keep_or_write, log_in

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
MAX_PASSWORD = "max's own passphrase"


@pytest.fixture
def second_page(browser: Browser, live: LiveServer) -> Iterator[Page]:
    """Another browser (its own cookies): the invited member's."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC", locale="en-GB")
    opened = context.new_page()
    opened.set_default_timeout(5000)
    yield opened
    context.close()


def open_admin(page: Page, live: LiveServer) -> None:
    page.goto(f"{live.url}/console/admin")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#admin")).to_be_visible()


def status_of(page: Page, method: str, path: str, body: Any = None) -> int:
    """What the page's own session gets from the server for one request (with its CSRF token)."""
    status: int = page.evaluate(
        """async ([method, path, body]) => {
            const session = await (await fetch('/console/api/session')).json();
            const headers = {'Content-Type': 'application/json', 'X-CSRF-Token': session.csrfToken};
            const sent = body === null ? undefined : JSON.stringify(body);
            return (await fetch(path, {method, headers, body: sent})).status;
        }""",
        [method, path, body],
    )
    return status


def test_an_invited_member_joins_keeps_a_unit_and_sees_the_call_it_is_sent_to(
    page: Page,
    second_page: Page,
    live: LiveServer,
    community: Community,
    provision: Provisioner,
    clock: ManualClock,
) -> None:
    clock.ms = SCREENSHOT_START_MS  # a stopped server clock: the screenshots are the same every run
    admin(provision, community)
    dispatcher(provision, community, "ann", community_user_id="license:ann")
    member(provision, community, "cal", "license:cal")
    log_in(page, live, community, "root")
    expect(page.locator("#to-admin")).to_be_visible()
    open_admin(page, live)

    # The admin invites a member; the link is shown once.
    page.click("#invite-form button[type=submit]")
    link_box = page.locator("#invite-link input")
    expect(link_box).to_have_value(
        re.compile(re.escape(f"{live.url}/console/invite?token=") + r"[\w-]{20,}$")
    )
    url = link_box.input_value()
    expect(page.locator("#invite-list li[data-invite]")).to_have_count(1)
    expect(page.locator("#audit-table tbody tr[data-action='member.invite']")).to_have_count(1)
    # The token and the port change every run: the picture shows a made-up link.
    link_box.evaluate("(field) => { field.value = 'https://cad.example.org/console/invite?token=4kXq…'; }")
    keep_or_write(IMAGES / "admin-members.png", page.locator("#members").screenshot())

    # The member opens it in their own browser, picks a name and password, and lands on their page.
    second_page.goto(url)
    expect(second_page.locator("body")).to_have_attribute("data-ready", "true")
    expect(second_page.locator("#invite-roles")).to_contain_text("member")
    second_page.fill("#invite-username", "max")
    second_page.fill("#invite-password", MAX_PASSWORD)
    second_page.fill("#invite-repeat", MAX_PASSWORD)
    second_page.click("#invite-submit")
    second_page.wait_for_url(f"{live.url}/console/me")
    expect(second_page.locator("#user-name")).to_have_text("max")
    expect(second_page.locator("#to-console")).to_be_hidden()

    # They create a unit and select it on server 1.
    form = second_page.locator("#unit-form")
    form.locator("[name=unitNum]").fill("1A-30")
    form.locator("[name=name]").fill("Max Power")
    form.locator("[name=department]").fill("LSPD")
    form.locator("[name=rank]").fill("Officer")
    form.locator("button[type=submit]").click()
    row = second_page.locator("#my-units tr[data-unit]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-field=unitNum]")).to_have_text("1A-30")
    ident = int(row.get_attribute("data-unit") or "0")
    row.locator("button[data-select='1']").click()
    expect(row.locator(".selected-on")).to_contain_text("Server 1")

    # The admin links the member's in-game id in the Members section.
    open_admin(page, live)
    max_row = page.locator("#member-table tr[data-username='max']")
    max_row.locator("input[name=communityUserId]").fill("license:max")
    max_row.locator("button.save").click()
    expect(page.locator("#audit-table tbody tr[data-action='member.change']")).to_have_count(1)
    expect(page.locator("#unit-table tr[data-unit]")).to_have_count(1)
    keep_or_write(IMAGES / "admin-units.png", page.locator("#units").screenshot())

    # A dispatch call attached through the API to that in-game id reaches the member's unit ...
    with live.client(community.api_key) as api:
        answer = api.post(
            f"{S1}/dispatch-calls",
            json=new_dispatch(communityUserIds=["license:max"], title="Armed Robbery", code="211"),
        )
        assert answer.status_code == 200, answer.text
        call = answer.json()
    assert call["idents"] == [ident]
    # ... shows on the member's page as their current call ...
    expect(second_page.locator("#my-call")).to_have_attribute("data-call", str(call["callId"]), timeout=8000)
    expect(second_page.locator("#my-call")).to_contain_text("Armed Robbery")
    expect(second_page.locator("#my-call")).to_contain_text("1A-30 Max Power")
    keep_or_write(IMAGES / "member-page.png", second_page.screenshot())

    # ... and the unit on the dispatcher's board, on that call.
    page.goto(f"{live.url}/console")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator(f"#units tr[data-unit='{ident}']")).to_contain_text("1A-30")
    expect(page.locator(f"#active [data-call='{call['callId']}']")).to_contain_text("1A-30")


def test_a_member_is_turned_away_from_the_admin_pages_and_the_board(
    page: Page, live: LiveServer, community: Community, provision: Provisioner
) -> None:
    admin(provision, community)
    bob = member(provision, community, "bob")
    ident = provision.unit(community, bob["uuid"])

    # Logging in at /console takes a member to their own page.
    page.goto(f"{live.url}/console")
    page.wait_for_selector("#login-form[data-ready]", state="attached")
    if page.is_visible("#login-community"):
        page.fill("#login-community", community.community_id)
    page.fill("#login-username", "bob")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live.url}/console/me")
    expect(page.locator(f"#my-units tr[data-unit='{ident}']")).to_be_visible()

    page.goto(f"{live.url}/console/admin")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.locator("#admin-denied-text")).to_have_text("These pages need the admin role.")
    expect(page.locator("#admin")).to_be_hidden()
    assert status_of(page, "GET", "/console/api/admin/members") == 403
    assert status_of(page, "POST", "/console/api/admin/members/invites", {"roles": ["admin"]}) == 403
    assert status_of(page, "PATCH", f"/console/api/admin/members/{bob['uuid']}", {"roles": ["admin"]}) == 403
    assert status_of(page, "PATCH", f"/console/api/admin/units/{ident}", {"name": "X"}) == 403
    assert status_of(page, "GET", "/console/api/servers/1/board") == 403
    with live.client() as http:
        boss = http.post(
            "/console/api/login",
            json={"communityId": community.community_id, "username": "root", "password": PASSWORD},
        )
        http.headers["X-CSRF-Token"] = boss.json()["csrfToken"]
        members = http.get("/console/api/admin/members").json()
    assert [(one["username"], one["roles"]) for one in members["members"]] == [
        ("bob", ["member"]),
        ("root", ["admin", "dispatcher", "member"]),
    ]
    assert members["invites"] == []
