"""Second factors as a person uses them: enrol TOTP on the account page reading the secret off
the page, and sign in through a client's authorization request, typing codes at /mfa."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import pyotp
import requests

from tests.support.account import csrf_of, open_account
from tests.support.browser import PASSWORD, Browser, hidden_fields, query_of

SECRET = re.compile(r'<code id="totp-secret" class="secret">([A-Z2-7]+)</code>')
RECOVERY = re.compile(r"<li><code>(idp_rc_[A-Za-z0-9_-]+)</code></li>")


@dataclass
class Enrolled:
    secret: str
    recovery_codes: list[str]

    def code(self, steps_ahead: int = 0) -> str:
        """The code of the current step (`steps_ahead` later: the next one, so a code of the
        step already used at enrolment is not refused as a replay)."""
        return pyotp.TOTP(self.secret).at(time.time() + 30 * steps_ahead)


def secret_on(page: str) -> str:
    found = SECRET.search(page)
    assert found, page
    return found.group(1)


def codes_on(page: str) -> list[str]:
    return [html.unescape(code) for code in RECOVERY.findall(page)]


def enrol_on_account_page(http: requests.Session, issuer: str, email: str) -> Enrolled:
    """Open the account page (signing in if needed), set up TOTP with a code computed from the
    secret shown, and read the recovery codes shown once."""
    page = open_account(http, issuer, email, "/account/totp")
    assert page.status_code == 200, page.text
    secret = secret_on(page.text)
    confirmed = http.post(
        f"{issuer}/account/totp",
        data={"csrf_token": csrf_of(page.text), "code": pyotp.TOTP(secret).now()},
        allow_redirects=False,
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = codes_on(confirmed.text)
    assert len(codes) == 10
    return Enrolled(secret, codes)


def type_code(browser: Browser, mfa_url: str, code: str) -> requests.Response:
    page = browser.get(mfa_url)
    assert page.status_code == 200, page.text
    assert '<label for="code">' in page.text
    form = hidden_fields(page.text) | {"code": code}
    return browser.http.post(f"{browser.issuer}/mfa", data=form, allow_redirects=False)


def run_with_factor(
    browser: Browser, email: str, code: Callable[[], str], password: str = PASSWORD, **params: str
) -> dict[str, str]:
    """Like Browser.run, typing `code()` at the second step: the redirect URI's parameters."""
    response = browser.authorize(**params)
    for _ in range(8):
        location = response.headers.get("Location", "")
        if location.startswith(f"{browser.issuer}/login"):
            response = browser.sign_in(location, email, password)
        elif location.startswith(f"{browser.issuer}/mfa"):
            answered = type_code(browser, location, code())
            assert answered.status_code == 303, answered.text
            response = browser.follow(answered)
        elif location.startswith(f"{browser.issuer}/consent"):
            response = browser.consent(location)
        elif location.startswith(browser.issuer):
            response = browser.follow(response)
        else:
            assert response.status_code in (302, 303), (response.status_code, response.text)
            return query_of(location)
    raise AssertionError("the flow did not reach the client")


def open_account_with_factor(
    http: requests.Session, issuer: str, email: str, code: Callable[[], str], path: str = "/account"
) -> requests.Response:
    """GET `issuer + path`, signing in with the password and `code()` when asked."""
    browser = Browser(http, issuer)
    response = browser.get(f"{issuer}{path}")
    for _ in range(8):
        if response.status_code not in (302, 303):
            return response
        location = response.headers["Location"]
        if location.startswith(f"{issuer}/login"):
            response = browser.sign_in(location, email, PASSWORD)
        elif location.startswith(f"{issuer}/mfa"):
            response = browser.follow(type_code(browser, location, code()))
        else:
            response = browser.get(location if "://" in location else _origin(issuer) + location)
    raise AssertionError("the page was never reached")


def _origin(issuer: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}"
