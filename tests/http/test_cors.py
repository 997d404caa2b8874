"""CORS (issue 3 §6): the token, userinfo, JWKS and revocation endpoints answer browsers of the
origins their clients registered, and nobody else; no other endpoint ever sends CORS headers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import requests

from idp.services.oauth_clients.clients import IssuedClient
from idp.services.tenancy.tenants import TenantView
from tests.support.browser import PASSWORD, REDIRECT, Browser, code_request, pkce_pair
from tests.support.factories import Factory
from tests.support.server import LiveServer

SHOP = "https://shop.example.com"  # registered by `shop`
BACKOFFICE = "http://127.0.0.1:3000"  # registered by `backoffice`, same tenant
ELSEWHERE = "https://elsewhere.example.com"  # registered by a client of another tenant
STRANGER = "https://evil.example.com"  # registered by nobody
CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
)


@dataclass(frozen=True)
class World:
    issuer: str
    tenant: TenantView
    shop: IssuedClient  # confidential, client credentials and the code flow
    spa: IssuedClient  # public single-page app of the same origin
    backoffice: IssuedClient
    other_issuer: str
    other: IssuedClient


@pytest.fixture(scope="module")
def world(server: LiveServer) -> World:
    """Every client is made before the first request, so the per-tenant origin cache (JWKS,
    preflights) never holds a copy older than the clients."""
    make = Factory(server.services, server.url)
    tenant, other_tenant = make.tenant(), make.tenant()
    shop = make.client(
        tenant,
        grant_types=("client_credentials", "authorization_code"),
        redirect_uris=(REDIRECT,),
        scopes=("openid", "email", "read"),
        allowed_cors_origins=(SHOP,),
    )
    spa = make.client(
        tenant,
        public=True,
        grant_types=("authorization_code",),
        redirect_uris=(f"{SHOP}/cb",),
        scopes=("openid",),
        allowed_cors_origins=(SHOP,),
    )
    backoffice = make.client(tenant, allowed_cors_origins=(BACKOFFICE,))
    other = make.client(other_tenant, allowed_cors_origins=(ELSEWHERE,))
    return World(
        make.issuer(tenant), tenant, shop, spa, backoffice, make.issuer(other_tenant), other
    )


def allowed_origin(response: requests.Response) -> str | None:
    """The origin the answer lets read it, after checking what must never be there."""
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers.get("Access-Control-Allow-Origin") != "*"
    assert response.status_code < 500, response.text
    return response.headers.get("Access-Control-Allow-Origin")


def varies_by_origin(response: requests.Response) -> bool:
    return "origin" in response.headers.get("Vary", "").lower().replace(" ", "").split(",")


def token(world: World, client: IssuedClient, origin: str | None, **data: str):
    headers = {"Origin": origin} if origin else {}
    data.setdefault("grant_type", "client_credentials")
    credentials = (client.client.client_id, client.secret or "")
    return requests.post(f"{world.issuer}/token", data=data, auth=credentials, headers=headers)


# --- token endpoint: the authenticating client's origins ------------------------------------


def test_the_token_endpoint_answers_the_clients_own_origin(world):
    response = token(world, world.shop, SHOP)
    assert response.status_code == 200, response.text
    assert allowed_origin(response) == SHOP
    assert varies_by_origin(response)


@pytest.mark.parametrize(
    "origin",
    [
        BACKOFFICE,  # another client's origin, same tenant
        ELSEWHERE,  # a client of another tenant
        STRANGER,
        "null",
        SHOP + "/",
        SHOP.upper(),
        "https://shop.example.com:443",
    ],
)
def test_the_token_endpoint_names_no_other_origin(world, origin):
    response = token(world, world.shop, origin)
    assert response.status_code == 200, response.text  # CORS is the browser's business
    assert allowed_origin(response) is None
    assert varies_by_origin(response)


def test_without_an_origin_nothing_changes_but_vary(world):
    response = token(world, world.shop, None)
    assert response.status_code == 200
    assert not any(name in response.headers for name in CORS_HEADERS)
    assert varies_by_origin(response)


def test_a_public_client_named_in_the_body_can_read_its_errors(world):
    # A single-page app sends client_id in the body; it must be able to read invalid_grant.
    response = requests.post(
        f"{world.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "client_id": world.spa.client.client_id,
            "code": "no-such-code",
            "redirect_uri": f"{SHOP}/cb",
            "code_verifier": "v" * 43,
        },
        headers={"Origin": SHOP},
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert allowed_origin(response) == SHOP


def test_another_clients_origin_is_refused_even_when_authentication_fails(world):
    failed = requests.post(
        f"{world.issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=(world.backoffice.client.client_id, "wrong secret"),
        headers={"Origin": SHOP},
    )
    assert failed.status_code == 401
    assert allowed_origin(failed) is None


def test_another_tenants_client_gets_nothing_here(world):
    # The client id of another tenant is unknown here, whatever origin it registered there.
    response = requests.post(
        f"{world.issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=(world.other.client.client_id, world.other.secret or ""),
        headers={"Origin": ELSEWHERE},
    )
    assert response.status_code == 401
    assert allowed_origin(response) is None


# --- revocation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("origin", "expected"), [(SHOP, SHOP), (BACKOFFICE, None)])
def test_revocation_answers_the_clients_own_origin(world, origin, expected):
    access_token = token(world, world.shop, None).json()["access_token"]
    response = requests.post(
        f"{world.issuer}/revoke",
        data={"token": access_token},
        auth=(world.shop.client.client_id, world.shop.secret or ""),
        headers={"Origin": origin},
    )
    assert response.status_code == 200, response.text
    assert allowed_origin(response) == expected


# --- userinfo: the access token's client ----------------------------------------------------


def test_userinfo_answers_the_origin_of_the_tokens_client(world, make):
    person = make.user(world.tenant, password=PASSWORD)
    browser = Browser(requests.Session(), world.issuer)
    verifier, challenge = pkce_pair()
    params = code_request(world.shop.client.client_id, challenge, scope="openid email")
    code = browser.run(person.email, PASSWORD, **params)["code"]
    redeemed = token(
        world,
        world.shop,
        SHOP,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )
    assert redeemed.status_code == 200, redeemed.text
    bearer = {"Authorization": f"Bearer {redeemed.json()['access_token']}"}

    mine = requests.get(f"{world.issuer}/userinfo", headers={**bearer, "Origin": SHOP})
    assert mine.status_code == 200, mine.text
    assert mine.json()["sub"] == person.subject
    assert allowed_origin(mine) == SHOP
    assert varies_by_origin(mine)
    for origin in (BACKOFFICE, ELSEWHERE, STRANGER):
        theirs = requests.get(f"{world.issuer}/userinfo", headers={**bearer, "Origin": origin})
        assert theirs.status_code == 200
        assert allowed_origin(theirs) is None


def test_userinfo_errors_are_readable_by_the_tokens_client_only(world):
    # A client credentials token is not for userinfo: refused, and the app may read why...
    access_token = token(world, world.shop, None).json()["access_token"]
    headers = {"Authorization": f"Bearer {access_token}"}
    refused = requests.get(f"{world.issuer}/userinfo", headers={**headers, "Origin": SHOP})
    assert refused.status_code in (401, 403)
    assert allowed_origin(refused) == SHOP
    assert "WWW-Authenticate" in refused.headers["Access-Control-Expose-Headers"]
    # ...while a token we did not sign names no client at all.
    forged = {
        "Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJ4In0.",
        "Origin": SHOP,
    }
    response = requests.get(f"{world.issuer}/userinfo", headers=forged)
    assert response.status_code == 401
    assert allowed_origin(response) is None


# --- JWKS: any client of the tenant ---------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "expected"),
    [(SHOP, SHOP), (BACKOFFICE, BACKOFFICE), (ELSEWHERE, None), (STRANGER, None)],
)
def test_the_jwks_answers_origins_of_the_tenants_clients(world, origin, expected):
    response = requests.get(f"{world.issuer}/jwks.json", headers={"Origin": origin})
    assert response.status_code == 200
    assert allowed_origin(response) == expected
    assert varies_by_origin(response)


def test_another_tenants_jwks_answers_its_own_clients_origins(world):
    response = requests.get(f"{world.other_issuer}/jwks.json", headers={"Origin": ELSEWHERE})
    assert allowed_origin(response) == ELSEWHERE
    response = requests.get(f"{world.other_issuer}/jwks.json", headers={"Origin": SHOP})
    assert allowed_origin(response) is None


def test_the_jwks_varies_by_origin_even_without_one(world):
    # It is publicly cacheable: a cache must not serve an answer made without Origin to a page.
    response = requests.get(f"{world.issuer}/jwks.json")
    assert varies_by_origin(response)
    assert "Access-Control-Allow-Origin" not in response.headers


# --- preflights -----------------------------------------------------------------------------


def preflight(url: str, origin: str, method: str = "POST") -> requests.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    return requests.options(url, headers=headers)


@pytest.mark.parametrize(
    ("path", "method", "methods"),
    [
        ("token", "POST", {"POST"}),
        ("authorize-challenge", "POST", {"POST"}),
        ("revoke", "POST", {"POST"}),
        ("userinfo", "GET", {"GET", "POST"}),
        ("jwks.json", "GET", {"GET"}),
    ],
)
@pytest.mark.parametrize("origin", [SHOP, BACKOFFICE])
def test_a_preflight_from_a_registered_origin_is_allowed(world, path, method, methods, origin):
    response = preflight(f"{world.issuer}/{path}", origin, method)
    assert response.status_code == 204
    assert allowed_origin(response) == origin
    allowed_methods = response.headers["Access-Control-Allow-Methods"]
    assert {m.strip() for m in allowed_methods.split(",")} == methods
    allowed_headers = response.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type"} <= {h.strip() for h in allowed_headers.split(",")}
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert varies_by_origin(response)


@pytest.mark.parametrize(
    "path", ["token", "authorize-challenge", "revoke", "userinfo", "jwks.json"]
)
@pytest.mark.parametrize("origin", [STRANGER, ELSEWHERE, "null"])
def test_a_preflight_from_any_other_origin_gets_no_permission(world, path, origin):
    response = preflight(f"{world.issuer}/{path}", origin)
    assert response.status_code in (204, 405)
    assert not any(name in response.headers for name in CORS_HEADERS)


def test_a_preflight_to_an_unknown_issuer_is_a_plain_404(server):
    response = preflight(f"{server.url}/t/no-such-tenant/token", SHOP)
    assert response.status_code == 404
    assert not any(name in response.headers for name in CORS_HEADERS)


# --- every other endpoint: never ------------------------------------------------------------


def test_authorization_introspection_discovery_pages_and_api_send_no_cors_headers(world, server):
    origin = {"Origin": SHOP}
    _, challenge = pkce_pair()
    answers = [
        requests.get(
            f"{world.issuer}/authorize",
            params=code_request(world.shop.client.client_id, challenge),
            headers=origin,
            allow_redirects=False,
        ),
        requests.post(
            f"{world.issuer}/introspect",
            data={"token": "x"},
            auth=(world.shop.client.client_id, world.shop.secret or ""),
            headers=origin,
        ),
        requests.get(f"{world.issuer}/.well-known/openid-configuration", headers=origin),
        requests.get(f"{world.issuer}/login", headers=origin),
        requests.get(f"{server.url}/api/v1/tenants", headers=origin),
        requests.get(f"{server.url}/api/v1/openapi.json", headers=origin),
        preflight(f"{world.issuer}/introspect", SHOP),
        preflight(f"{world.issuer}/authorize", SHOP, "GET"),
        preflight(f"{server.url}/api/v1/tenants", SHOP, "GET"),
    ]
    for response in answers:
        assert response.status_code < 500, (response.url, response.status_code)
        leaked = [name for name in CORS_HEADERS if name in response.headers]
        assert not leaked, (response.request.method, response.url, leaked)
