"""Fixtures of the console tests: one headless Chromium per test module, a fresh page per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.support import Community, LiveServer, Provisioner
from tests.web.support import CHROMIUM, CHROMIUM_ARGS, dispatcher


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Debian's chromium, installed by scripts/test.sh: no browser download is ever needed. Per module:
    # sync Playwright keeps an event loop running in the thread while it is open, and a later test's
    # asyncio.run (in the same test process, whatever order the files run in) would find it.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, live: LiveServer) -> Iterator[Page]:
    # A browser needs a real socket. Asks for the server so the page (and its live stream) closes before
    # the server stops.
    # A fixed time zone and locale: times on the page (and in the screenshot) read the same everywhere.
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, timezone_id="UTC", locale="en-GB")
    opened = context.new_page()
    opened.set_default_timeout(5000)
    yield opened
    context.close()


@pytest.fixture
def alice(provision: Provisioner, community: Community) -> dict[str, str]:
    """A dispatcher of the `community` fixture's community."""
    return dispatcher(provision, community, "alice", community_user_id="license:dispatch-alice")
