"""The order of a refresh rotation's two writes (RFC 9700 §4.14, services/tokens/refresh_tokens.py):
the copy kept for retries goes to the short-lived store before the database records the token
as spent. A Redis of the test's own is stopped at that moment, standing in for a process that
dies between the writes: the token must stay unspent, so the retry is an ordinary rotation and
not "already used"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from idp.services.tokens.refresh_tokens import (
    FamilyGrant,
    Origin,
    TokenResponse,
    find_refresh_token,
    rotate,
)
from tests.conftest import settings_for_tests
from tests.support.backends import sqlite_backend
from tests.support.factories import Factory
from tests.support.redis_server import RedisServer
from tests.support.refresh_families import access_token, family, refresh_client

GRACE = 30


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def services(tmp_path: Path, redis_server: RedisServer) -> Iterator[Services]:
    backend = sqlite_backend(tmp_path)
    settings = settings_for_tests(backend, tmp_path, "https://issuer.example").replace(
        redis={"url": redis_server.url, "key_prefix": "idp-order:"}
    )
    built = build_services(settings, create_kek=True)
    upgrade(built.engine)
    yield built
    built.engine.dispose()


def test_a_failure_between_the_two_writes_leaves_the_token_unspent(
    services: Services, redis_server: RedisServer
) -> None:
    make = Factory(services, "https://issuer.example")
    tenant = make.tenant()
    client = refresh_client(make, tenant)
    issued = family(services, make, tenant, client, "sid-order", ("openid", "offline_access"))

    def respond(grant: FamilyGrant, scopes: tuple[str, ...]) -> TokenResponse:
        minted = access_token(services, tenant, client)
        return TokenResponse({"access_token": minted.token}, minted)

    def refresh() -> dict:
        return rotate(
            services.uow(),
            services.refresh_token_lookup,
            services.store,
            services.revocations,
            tenant,
            client.client.client_id,
            issued.token,
            None,
            respond,
            GRACE,
            Origin(),
        )

    redis_server.stop()
    with pytest.raises(Exception):  # noqa: B017 - whichever error the store raises, it failed
        refresh()
    view = find_refresh_token(services.uow(), tenant, issued.token)
    assert view is not None and view.active  # nothing was spent: no half-done rotation

    redis_server.start()  # back, and empty
    first = refresh()
    retry = refresh()  # the response was lost: within the grace window, the same successor
    assert retry["refresh_token"] == first["refresh_token"]
    successor = find_refresh_token(services.uow(), tenant, first["refresh_token"])
    assert successor is not None and successor.active
