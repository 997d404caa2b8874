"""Passkey test helpers: a server whose public URL is http://localhost:<port> (WebAuthn refuses
an IP address as relying party id, so the usual 127.0.0.1 server cannot host a ceremony), and
Chromium's virtual authenticator through the DevTools WebAuthn domain."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from tests.support.backends import Backend
from tests.support.ports import free_port
from tests.support.server import start_server


def localhost_services(backend: Backend, directory: Path) -> Iterator[tuple[Services, str]]:
    """A live server on the test backend, addressed as localhost; yields it and its URL."""
    from tests.conftest import settings_for_tests

    port = free_port()
    url = f"http://localhost:{port}"
    services = build_services(settings_for_tests(backend, directory, url), create_kek=True)
    upgrade(services.engine)
    live = start_server(services, port)
    yield services, url
    live.stop()
    services.close()


def virtual_authenticator(context: Any, page: Any, user_verified: bool = True) -> tuple[Any, str]:
    """A CTAP2 platform authenticator with resident keys and user verification in `page`'s
    browser (Chromium DevTools Protocol, WebAuthn domain); the CDP session and its id."""
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": user_verified,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, added["authenticatorId"]


def move_credentials(source: tuple[Any, str], target: tuple[Any, str]) -> int:
    """Copy every credential of one virtual authenticator into another (a second browser
    context has authenticators of its own); how many were copied."""
    cdp, authenticator = source
    found = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    for credential in found:
        target[0].send(
            "WebAuthn.addCredential", {"authenticatorId": target[1], "credential": credential}
        )
    return len(found)
