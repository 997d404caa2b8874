"""Fixtures shared by the protocol-endpoint tests: RFC 6749 error checks and token requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from idp.services.accounts.users import UserView
from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from tests.support.browser import PASSWORD, REDIRECT, Browser
from tests.support.factories import Factory
from tests.support.redis_server import RedisServer
from tests.support.server import LiveServer


def oauth_error(response: requests.Response) -> tuple[int, str]:
    """(status, error) of an RFC 6749 §5.2 error response, once its form has been checked.

    Every protocol error is a JSON object with an `error` code and must never be cached
    (RFC 6749 §5.1/§5.2: Cache-Control: no-store), whatever the status.
    """
    assert response.headers.get("Content-Type", "").startswith("application/json"), response.text
    assert response.headers.get("Cache-Control") == "no-store"
    body = response.json()
    assert isinstance(body.get("error"), str), body
    return response.status_code, body["error"]


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of the module's own, keeping nothing on disk, which its tests may stop."""
    own = RedisServer(tmp_path_factory.mktemp("redis"))
    own.start()
    yield own
    own.stop()


@pytest.fixture
def rfc_error() -> Callable[[requests.Response], tuple[int, str]]:
    return oauth_error


@pytest.fixture(scope="module")
def module_tenant(server: LiveServer) -> TenantView:
    """One tenant for a whole test module, on each backend.

    Creating a tenant generates its RSA keys; modules whose tests neither change tenant settings
    nor fail client authentication often (the failure limit counts per tenant) share one.
    """
    return Factory(server.services, server.url).tenant()


TokenRequest = Callable[..., requests.Response]


@pytest.fixture
def request_token(make: Factory, http: requests.Session) -> TokenRequest:
    """POST a client-credentials request with Basic credentials to the client's tenant."""

    def post(tenant: TenantView, issued: IssuedClient, **data: Any) -> requests.Response:
        data.setdefault("grant_type", "client_credentials")
        return http.post(
            f"{make.issuer(tenant)}/token",
            data=data,
            auth=(issued.client.client_id, issued.secret or ""),
        )

    return post


@pytest.fixture
def access_token(request_token: TokenRequest) -> Callable[..., str]:
    """A fresh access token for a client, asserting the request succeeded."""

    def issue(tenant: TenantView, issued: IssuedClient, **data: Any) -> str:
        response = request_token(tenant, issued, **data)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    return issue


# The authorization code flow (issue 3): a relying party, a person, and their browser.
@pytest.fixture
def browser(make: Factory, http: requests.Session, module_tenant: TenantView) -> Browser:
    return Browser(http, make.issuer(module_tenant))


@pytest.fixture
def rp(make: Factory, module_tenant: TenantView) -> IssuedClient:
    """A confidential OpenID Connect client (client_secret_basic) of the module's tenant."""
    return make.client(
        module_tenant,
        grant_types=("authorization_code",),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "profile", "email", "roles"),
    )


@pytest.fixture
def person(make: Factory, module_tenant: TenantView) -> UserView:
    return make.user(
        module_tenant,
        name="Ada Lovelace",
        password=PASSWORD,
        roles=("editor",),
        create_missing_roles=True,
    )
