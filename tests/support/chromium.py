"""Debian's Chromium (`apt-get install -y chromium`, done by .ci/run) driven by Playwright through
`executable_path`, so no browser is downloaded; and a person signing in through our hosted
pages in it, found by their labels and buttons as a person finds them. The client's redirect
URI is answered inside the browser by `page.route`, so nothing leaves the machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import REDIRECT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_browser() -> Iterator[Any]:
    """A launched browser for a fixture to yield; skips (fails in CI) without Chromium."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("IDP_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def sign_in(
    page: Any,
    authorization_url: str,
    issuer: str,
    email: str,
    password: str,
    consent_heading: str | None = None,
) -> list[str]:
    """Open the authorization request, sign in on the login page and allow on the consent
    page (whose heading, if given, must read `consent_heading`); the URLs the browser then
    brought to the redirect URI, a list that keeps growing with later visits of the page."""
    arrived: list[str] = []

    def client_callback(route: Any) -> None:
        arrived.append(route.request.url)
        route.fulfill(status=200, body="signed in", content_type="text/plain")

    page.route(f"{REDIRECT}**", client_callback)
    page.goto(authorization_url)
    assert page.title().startswith("Sign in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/consent**")
    if consent_heading is not None:
        assert page.get_by_role("heading").inner_text() == consent_heading
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(f"{REDIRECT}**")
    assert arrived, "the browser never reached the client"
    return arrived
