"""Fixtures of the admin tests: a Chromium for the browser stories, and the console tests' page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.web.conftest import page
from tests.web.support import CHROMIUM, CHROMIUM_ARGS

__all__ = ["browser", "page"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per run: Playwright's sync API keeps an event loop running in this thread while it
    # is open, and the tests after this directory (tests/api among them) call asyncio.run.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
