"""Full browser sign-ins with raw HTTP, run by bench/run.py in a process of its own on CPU 1.

Each sign-in is a new browser (no cookies) of one of a pool of people: the authorization
request with PKCE, the login form (its CSRF token and transaction id read from the HTML, as a
browser posts them back), the consent form (`prompt=consent`, so every sign-in shows it), then
the client's code exchange. No JavaScript is needed by our pages. Prints one JSON line: how many
sign-ins completed, in how long, how many failed, and the refresh tokens obtained (the refresh
row's starting pool).

The `reference` flow drives node-oidc-provider's development interactions instead (its only
login and consent pages; any login is accepted, so there is no password to hash): it gives the
reference's refresh row its refresh tokens.

    python -m bench.browser ours|reference ISSUER CLIENT_ID SECRET PASSWORD SECONDS CONCURRENCY
                            EMAIL...
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

REDIRECT = "https://rp.bench.example/callback"
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', re.S)
INPUT = re.compile(r'<input[^>]*name="([^"]+)"(?:[^>]*value="([^"]*)")?')


class SignInFailed(RuntimeError):
    """A step did not answer as a browser expects; the message says which."""


def form_of(page: requests.Response) -> dict[str, str]:
    if page.status_code != 200:
        raise SignInFailed(f"{page.url}: HTTP {page.status_code}")
    return {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)}


def authorization_request(
    browser: requests.Session, url: str, client_id: str, scope: str
) -> tuple[requests.Response, str]:
    """The authorization request with PKCE: the response, and the code verifier."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    response = browser.get(
        url,
        params={
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT,
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "prompt": "consent",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
    )
    return response, verifier


def sign_in(issuer: str, client: tuple[str, str], email: str, password: str) -> str:
    """One person through the whole flow in a new browser; the client's refresh token."""
    with requests.Session() as browser:
        response, verifier = authorization_request(
            browser, f"{issuer}/authorize", client[0], "openid"
        )
        for _ in range(8):
            location = response.headers.get("Location", "")
            if location.startswith(REDIRECT):
                code = parse_qs(urlsplit(location).query)["code"][0]
                return redeem(browser, issuer, client, code, verifier)
            if not location.startswith(issuer):
                raise SignInFailed(f"HTTP {response.status_code} to {location!r}")
            page = browser.get(location, allow_redirects=False)
            path = urlsplit(location).path.removeprefix(urlsplit(issuer).path)
            if path == "/login":
                form = form_of(page) | {"email": email, "password": password}
                response = browser.post(f"{issuer}/login", data=form, allow_redirects=False)
            elif path == "/consent":
                form = form_of(page) | {"decision": "allow"}
                response = browser.post(f"{issuer}/consent", data=form, allow_redirects=False)
            else:
                response = page
        raise SignInFailed("the flow did not reach the client")


def sign_in_reference(issuer: str, client: tuple[str, str], login: str, password: str) -> str:
    """node-oidc-provider's development login and consent forms, as a browser fills them in."""
    with requests.Session() as browser:
        response, verifier = authorization_request(
            browser, f"{issuer}/auth", client[0], "openid offline_access"
        )
        for _ in range(8):
            location = urljoin(issuer, response.headers.get("Location", ""))
            if location.startswith(REDIRECT):
                code = parse_qs(urlsplit(location).query)["code"][0]
                return redeem(browser, issuer, client, code, verifier)
            page = browser.get(location, allow_redirects=False)
            forms = FORM.findall(page.text) if page.status_code == 200 else []
            if not forms:
                response = page
                continue
            action, inputs = forms[0]
            form = {name: html.unescape(value) for name, value in INPUT.findall(inputs)}
            if "login" in form:
                form |= {"login": login, "password": password}
            response = browser.post(urljoin(issuer, action), data=form, allow_redirects=False)
        raise SignInFailed("the flow did not reach the client")


FLOWS = {"ours": sign_in, "reference": sign_in_reference}


def redeem(
    browser: requests.Session, issuer: str, client: tuple[str, str], code: str, verifier: str
) -> str:
    response = browser.post(
        f"{issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=client,
    )
    if response.status_code != 200:
        raise SignInFailed(f"code exchange: HTTP {response.status_code} {response.text[:200]}")
    return str(response.json()["refresh_token"])


def main(argv: list[str]) -> None:
    flow, issuer, client_id, secret, password, seconds, concurrency, *emails = argv
    run_flow = FLOWS[flow]
    deadline = time.monotonic() + float(seconds)
    tokens: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()

    def person(index: int) -> None:
        turn = index
        while time.monotonic() < deadline:
            email = emails[turn % len(emails)]
            turn += int(concurrency)
            try:
                token = run_flow(issuer, (client_id, secret), email, password)
            except (SignInFailed, requests.RequestException) as error:
                with lock:
                    failures.append(str(error))
                continue
            with lock:
                tokens.append(token)

    started = time.monotonic()
    threads = [threading.Thread(target=person, args=(i,)) for i in range(int(concurrency))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(
        json.dumps(
            {
                "sign_ins": len(tokens),
                "seconds": time.monotonic() - started,
                "failures": len(failures),
                "first_failures": failures[:3],
                "refresh_tokens": tokens,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
