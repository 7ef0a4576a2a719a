"""Fixtures of the admin tests: the console tests' browser and page, for the browser stories."""

from __future__ import annotations

from tests.web.conftest import browser, page

__all__ = ["browser", "page"]
