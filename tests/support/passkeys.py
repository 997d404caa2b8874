"""Passkey test helpers: a server whose public URL is http://localhost:<port> (WebAuthn refuses
an IP address as relying party id, so the usual 127.0.0.1 server cannot host a ceremony), and
Chromium's virtual authenticator through the DevTools WebAuthn domain."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from idp.models.passkeys import Passkey
from idp.models.schema import upgrade
from idp.models.users import User
from idp.services.container import Services, build_services
from idp.services.tenancy.tenants import TenantView
from tests.support.account import csrf_of
from tests.support.backends import Backend
from tests.support.ports import free_port
from tests.support.server import start_server
from tests.support.soft_authenticator import SoftAuthenticator


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


def virtual_authenticator(context: Any, page: Any, synced: bool = False) -> tuple[Any, str]:
    """A CTAP2 platform authenticator with resident keys and user verification in `page`'s
    browser (Chromium DevTools Protocol, WebAuthn domain); `synced`: its credentials are
    backup eligible and backed up, as a phone's synced passkeys. The CDP session and its id."""
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
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
                "defaultBackupEligibility": synced,
                "defaultBackupState": synced,
            }
        },
    )
    return cdp, added["authenticatorId"]


def origin_of(issuer: str) -> str:
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}"


def passkey_options(
    http: requests.Session, issuer: str, purpose: str, page: str, txn: str = ""
) -> tuple[str, dict[str, Any]]:
    """The options our server gives for a ceremony started on `page` (its CSRF token)."""
    csrf = csrf_of(http.get(f"{issuer}{page}").text)
    answer = http.post(
        f"{issuer}/passkeys/options", data={"csrf_token": csrf, "purpose": purpose, "txn": txn}
    )
    assert answer.status_code == 200, answer.text
    return csrf, answer.json()


def add_passkey(
    http: requests.Session, issuer: str, soft: SoftAuthenticator, name: str = "Key"
) -> requests.Response:
    """Register `soft` for the person signed in to `http`, as passkeys.js does."""
    csrf, options = passkey_options(http, issuer, "register", "/account/passkeys/new")
    credential = soft.create(options, origin_of(issuer))
    return http.post(
        f"{issuer}/account/passkeys",
        data={"csrf_token": csrf, "name": name, "credential": credential},
    )


def add_stored_passkey(services: Services, tenant: TenantView, subject: str, name: str) -> None:
    """A passkey row as registration leaves it, for pages that only show passkeys."""
    with services.uow() as uow:
        user_id = uow.session.scalar(
            select(User.id).where(User.tenant_id == tenant.id, User.subject == subject)
        )
        uow.session.add(
            Passkey(
                tenant_id=tenant.id,
                user_id=user_id,
                name=name,
                credential_id=os.urandom(16),
                public_key=b"\xa0",
                sign_count=0,
                transports=["internal"],
                user_verified=True,
                backup_eligible=False,
            )
        )
        uow.commit()
