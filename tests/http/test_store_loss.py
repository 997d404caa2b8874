"""DESIGN §3: a Redis that restarts empty or is flushed never lets anyone back in.

The server here runs on PostgreSQL and a Redis of this module's own (tests/support/redis_server.py),
which keeps nothing on disk, like a production Redis without persistence. Before each loss the
test revokes everything one can revoke: an access token (RFC 7009), a person deactivated, a
person signed out everywhere, an API key, a client secret rotated, and a `private_key_jwt`
assertion used once. After the loss, and again once the revocation cache has been refilled,
every one of them is still refused, and nothing that was never revoked is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from idp.models.schema import upgrade
from idp.services.container import build_services
from idp.services.management.api_keys import OPERATOR, create_api_key
from idp.services.tokens.revocations import WARM, WARM_KEY
from tests.conftest import settings_for_tests
from tests.http.test_client_auth import make_assertion, new_key, post_assertion, public_jwks
from tests.support.backends import postgres_with_redis
from tests.support.browser import (
    PASSWORD,
    REDIRECT,
    Browser,
    code_request,
    pkce_pair,
    signed_in_tokens,
)
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.server import LiveServer, start_server

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def server(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """This module's own server: PostgreSQL (own schema) and the module's own Redis."""
    databases = postgres_with_redis(redis_server.url)
    backend = next(databases)
    port = free_port()
    directory: Path = tmp_path_factory.mktemp("store-loss")
    services = build_services(
        settings_for_tests(backend, directory, f"http://127.0.0.1:{port}"), create_kek=True
    )
    upgrade(services.engine)
    live = start_server(services, port)
    yield live
    live.stop()
    services.close()
    databases.close()


@dataclass
class Revoked:
    """Everything revoked before the loss, and a token that never was."""

    issuer: str
    resource_server: tuple[str, str]
    revoked_token: str
    kept_token: str
    deactivated_token: str
    signed_out_token: str
    signed_out_refresh: str
    signed_out_browser: Browser
    relying_party: str
    revoked_api_key: str
    rotated_client: tuple[str, str]
    used_assertion: str
    token_url: str


def _introspect(revoked: Revoked, token: str) -> bool:
    response = requests.post(
        f"{revoked.issuer}/introspect", data={"token": token}, auth=revoked.resource_server
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


def _signed_in(make: Factory, tenant, rp) -> tuple[str, dict[str, str], Browser]:
    """A person who signed in on the hosted page: their subject, the client's tokens, and
    their browser, which holds the session cookie."""
    person = make.user(tenant, password=PASSWORD)
    browser = Browser(requests.Session(), make.issuer(tenant))
    tokens = signed_in_tokens(
        browser, rp.client.client_id, rp.secret, person.email, scope="openid offline_access"
    )
    return person.subject, tokens, browser


def _client_credentials(issuer: str, client: tuple[str, str]) -> requests.Response:
    return requests.post(f"{issuer}/token", data={"grant_type": "client_credentials"}, auth=client)


def _revoke_everything(make: Factory, server: LiveServer) -> Revoked:
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    admin = {
        "Authorization": "Bearer "
        + create_api_key(server.services.uow(), OPERATOR, tenant, "admin", None).secret
    }
    api = f"{server.url}/api/v1/tenants/{tenant.slug}"

    machine = make.client(tenant)
    credentials = (machine.client.client_id, machine.secret or "")
    revoked_token, kept_token = (
        _client_credentials(issuer, credentials).json()["access_token"] for _ in range(2)
    )
    answer = requests.post(f"{issuer}/revoke", data={"token": revoked_token}, auth=credentials)
    assert answer.status_code == 200

    rp = make.client(
        tenant,
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "offline_access"),
    )
    deactivated, deactivated_tokens, _ = _signed_in(make, tenant, rp)
    answer = requests.patch(
        f"{api}/users/{deactivated}",
        json={"active": False},
        headers=admin | {"If-Match": "*"},
    )
    assert answer.status_code == 200, answer.text
    signed_out, signed_out_tokens, signed_out_browser = _signed_in(make, tenant, rp)
    answer = requests.delete(f"{api}/users/{signed_out}/sessions", headers=admin)
    assert answer.status_code == 204, answer.text

    doomed = create_api_key(server.services.uow(), OPERATOR, tenant, "doomed", None)
    answer = requests.delete(f"{api}/api-keys/{doomed.key.key_id}", headers=admin)
    assert answer.status_code in (200, 204), answer.text

    rotated = make.client(tenant)
    answer = requests.post(f"{api}/clients/{rotated.client.client_id}/secret", headers=admin)
    assert answer.status_code == 200, answer.text

    key = new_key()
    signer = make.client(tenant, auth_method="private_key_jwt", jwks=public_jwks(key))
    token_url = f"{issuer}/token"
    assertion = make_assertion(key, signer.client.client_id, token_url, lifetime=300)
    assert post_assertion(requests.Session(), token_url, assertion).status_code == 200

    return Revoked(
        issuer=issuer,
        resource_server=credentials,
        revoked_token=revoked_token,
        kept_token=kept_token,
        deactivated_token=deactivated_tokens["access_token"],
        signed_out_token=signed_out_tokens["access_token"],
        signed_out_refresh=signed_out_tokens["refresh_token"],
        signed_out_browser=signed_out_browser,
        relying_party=rp.client.client_id,
        revoked_api_key=doomed.secret,
        rotated_client=(rotated.client.client_id, rotated.secret or ""),
        used_assertion=assertion,
        token_url=token_url,
    )


def _assert_still_refused(revoked: Revoked, server: LiveServer) -> None:
    assert not _introspect(revoked, revoked.revoked_token)
    assert not _introspect(revoked, revoked.deactivated_token)
    assert not _introspect(revoked, revoked.signed_out_token)
    for token in (revoked.deactivated_token, revoked.signed_out_token):
        userinfo = requests.get(
            f"{revoked.issuer}/userinfo", headers={"Authorization": f"Bearer {token}"}
        )
        assert userinfo.status_code == 401, userinfo.text
    refresh = requests.post(
        revoked.token_url,
        data={"grant_type": "refresh_token", "refresh_token": revoked.signed_out_refresh},
        auth=revoked.resource_server,
    )
    assert refresh.status_code in (400, 401), refresh.text
    # The ended login session stays ended: the browser's cookie signs nobody in silently.
    _, challenge = pkce_pair()
    silent = revoked.signed_out_browser.authorize(
        **code_request(revoked.relying_party, challenge, scope="openid", prompt="none")
    )
    assert "error=login_required" in silent.headers["Location"]
    api_call = requests.get(
        f"{server.url}/api/v1/tenants",
        headers={"Authorization": f"Bearer {revoked.revoked_api_key}"},
    )
    assert api_call.status_code == 401, api_call.text
    assert _client_credentials(revoked.issuer, revoked.rotated_client).status_code == 401
    replay = post_assertion(requests.Session(), revoked.token_url, revoked.used_assertion)
    assert replay.status_code == 401, replay.text
    # Nothing is refused that never was revoked: the check did not simply fail closed.
    assert _introspect(revoked, revoked.kept_token)


LOSSES: dict[str, Callable[[RedisServer], None]] = {
    "restarted-empty": RedisServer.restart,
    "flushed": RedisServer.flushall,
}


@pytest.mark.parametrize("lose", list(LOSSES))
def test_nothing_revoked_comes_back_after_the_store_loses_its_contents(
    lose: str, make: Factory, server: LiveServer, redis_server: RedisServer
) -> None:
    revoked = _revoke_everything(make, server)
    _assert_still_refused(revoked, server)

    LOSSES[lose](redis_server)
    assert redis_server.client().get(f"idp:{WARM_KEY}") is None
    _assert_still_refused(revoked, server)  # from the database, refilling the cache

    assert redis_server.client().get(f"idp:{WARM_KEY}") == WARM
    _assert_still_refused(revoked, server)  # from the refilled cache


def test_a_revocation_during_a_lost_cache_is_seen_once_it_is_refilled(
    make: Factory, server: LiveServer, redis_server: RedisServer
) -> None:
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    machine = make.client(tenant)
    credentials = (machine.client.client_id, machine.secret or "")
    token = _client_credentials(issuer, credentials).json()["access_token"]
    redis_server.flushall()
    answer = requests.post(f"{issuer}/revoke", data={"token": token}, auth=credentials)
    assert answer.status_code == 200
    for _ in range(2):  # the first check refills the cache, the second reads it
        introspected = requests.post(
            f"{issuer}/introspect", data={"token": token}, auth=credentials
        )
        assert introspected.json() == {"active": False}
    assert redis_server.client().get(f"idp:{WARM_KEY}") == WARM


def test_a_client_changed_between_two_losses_is_never_served_as_it_was(
    make: Factory, server: LiveServer, redis_server: RedisServer
) -> None:
    """Workers cache clients under a generation kept in the store
    (services/oauth_clients/client_cache.py); a store that lost it twice must not make an entry
    from before the change current again."""
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    machine = make.client(tenant)
    old = (machine.client.client_id, machine.secret or "")
    redis_server.flushall()
    assert _client_credentials(issuer, old).status_code == 200  # cached after the first loss
    admin = create_api_key(server.services.uow(), OPERATOR, tenant, "admin", None).secret
    rotated = requests.post(
        f"{server.url}/api/v1/tenants/{tenant.slug}/clients/{old[0]}/secret",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert rotated.status_code == 200
    redis_server.flushall()
    assert _client_credentials(issuer, old).status_code == 401
    assert _client_credentials(issuer, (old[0], rotated.json()["client_secret"])).status_code == 200
