"""Dynamic client registration (RFC 7591) and client configuration (RFC 7592), per tenant:
off by default, initial access tokens when on, one test per refusal with its exact RFC answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from joserfc.jwk import ECKey
from sqlalchemy import update

from idp.models.registration import InitialAccessToken
from idp.services.oauth_clients import clients as client_service
from idp.services.oauth_clients import initial_access_tokens as iat_service
from idp.services.tenancy import tenant_settings
from idp.services.tenancy.tenants import TenantView
from tests.support.factories import Factory

CC_CLIENT = {"client_name": "Billing robot", "grant_types": ["client_credentials"]}


@pytest.fixture
def dcr_tenant(make: Factory) -> Callable[..., TenantView]:
    """A fresh tenant with registration on (an initial access token required unless told)."""
    return make.registration_tenant


@pytest.fixture
def initial_token(make: Factory) -> Callable[..., str]:
    def issue(tenant: TenantView, **options: Any) -> str:
        uow = make.services.uow()
        return iat_service.create_initial_access_token(uow, tenant, "test", **options).secret

    return issue


@pytest.fixture
def register(make: Factory, http: requests.Session) -> Callable[..., requests.Response]:
    def post(tenant: TenantView, metadata: Any, token: str | None = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return http.post(f"{make.issuer(tenant)}/register", json=metadata, headers=headers)

    return post


@pytest.fixture
def public_jwks() -> dict[str, Any]:
    key = ECKey.generate_key("P-256", auto_kid=True)
    return {"keys": [key.as_dict(private=False) | {"use": "sig"}]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_standard_client_registers_gets_a_token_reads_updates_and_deletes_itself(
    dcr_tenant, initial_token, make, http
):
    tenant = dcr_tenant()
    issuer = make.issuer(tenant)
    resource_server = make.client(tenant, is_resource_server=True)
    discovery = http.get(f"{issuer}/.well-known/openid-configuration").json()
    assert discovery["registration_endpoint"] == f"{issuer}/register"

    registered = http.post(
        discovery["registration_endpoint"],
        json={**CC_CLIENT, "scope": "orders:read orders:write", "logo_uri": "https://x.example/l"},
        headers=bearer(initial_token(tenant)),
    )
    assert registered.status_code == 201, registered.text
    assert registered.headers["Cache-Control"] == "no-store"
    body = registered.json()
    client_id = body["client_id"]
    assert body["client_secret"].startswith("idp_cs_")
    assert body["client_secret_expires_at"] == 0
    assert abs(body["client_id_issued_at"] - time.time()) < 60
    assert body["registration_access_token"].startswith("idp_rat_")
    assert body["registration_client_uri"] == f"{issuer}/register/{client_id}"
    assert body["token_endpoint_auth_method"] == "client_secret_basic"  # RFC 7591 §2 default
    assert body["grant_types"] == ["client_credentials"]
    assert body["response_types"] == []
    assert body["scope"] == "orders:read orders:write"
    assert body["logo_uri"] == "https://x.example/l"
    assert body["application_type"] == "web"  # OIDC Registration §2 default

    # A standard client library gets a token with what registration returned.
    session = OAuth2Session(client_id, body["client_secret"], scope="orders:read")
    token = session.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
    assert token["scope"] == "orders:read"

    config_uri, rat = body["registration_client_uri"], body["registration_access_token"]
    read = http.get(config_uri, headers=bearer(rat))
    assert read.status_code == 200
    assert "client_secret" not in read.json()  # stored as a digest only; never shown again
    assert read.json() == {k: v for k, v in body.items() if k != "client_secret"}

    # RFC 7592 §2.2: a PUT replaces the metadata; sending back the read response is fine.
    changed = {**read.json(), "client_name": "Billing robot v2", "scope": "orders:read"}
    updated = http.put(config_uri, json=changed, headers=bearer(rat))
    assert updated.status_code == 200, updated.text
    assert updated.json()["client_name"] == "Billing robot v2"
    assert updated.json()["scope"] == "orders:read"
    assert updated.json()["client_id"] == client_id
    assert http.get(config_uri, headers=bearer(rat)).json()["client_name"] == "Billing robot v2"

    deleted = http.delete(config_uri, headers=bearer(rat))
    assert deleted.status_code == 204
    assert http.get(config_uri, headers=bearer(rat)).status_code == 401
    introspected = http.post(
        discovery["introspection_endpoint"],
        data={"token": token["access_token"]},
        auth=(resource_server.client.client_id, resource_server.secret),
    )
    assert introspected.json() == {"active": False}  # its tokens died with it


def test_registration_is_off_by_default(make, http, register, rfc_error):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    assert (
        "registration_endpoint" not in http.get(f"{issuer}/.well-known/openid-configuration").json()
    )
    assert rfc_error(register(tenant, CC_CLIENT)) == (404, "invalid_request")
    assert rfc_error(http.get(f"{issuer}/register/anything")) == (404, "invalid_request")


def test_open_registration_needs_no_token(dcr_tenant, register):
    tenant = dcr_tenant(requires_token=False)
    registered = register(tenant, CC_CLIENT)
    assert registered.status_code == 201, registered.text


def test_without_an_initial_access_token_it_is_401_with_a_bare_challenge(
    dcr_tenant, register, make, rfc_error
):
    tenant = dcr_tenant()
    refused = register(tenant, CC_CLIENT)
    assert rfc_error(refused) == (401, "invalid_token")
    # RFC 6750 §3.1: no credentials, so the challenge names no error.
    assert refused.headers["WWW-Authenticate"] == f'Bearer realm="{make.issuer(tenant)}"'


@pytest.mark.parametrize(
    "token", ["idp_iat_not-a-real-token", "garbage", "idp_ak_" + "x" * 43, "x" * 5000]
)
def test_an_unknown_initial_access_token_is_401(dcr_tenant, register, rfc_error, token):
    refused = register(dcr_tenant(), CC_CLIENT, token)
    assert rfc_error(refused) == (401, "invalid_token")
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_an_expired_initial_access_token_is_401(
    dcr_tenant, initial_token, register, services, rfc_error
):
    tenant = dcr_tenant()
    token = initial_token(tenant, expires_at=datetime.now(UTC) + timedelta(hours=1))
    with services.uow() as uow:
        uow.session.execute(
            update(InitialAccessToken)
            .where(InitialAccessToken.tenant_id == tenant.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        uow.commit()
    assert rfc_error(register(tenant, CC_CLIENT, token)) == (401, "invalid_token")


def test_a_used_up_initial_access_token_is_401(dcr_tenant, initial_token, register, rfc_error):
    tenant = dcr_tenant()
    token = initial_token(tenant, max_uses=2)
    assert register(tenant, CC_CLIENT, token).status_code == 201
    assert register(tenant, CC_CLIENT, token).status_code == 201
    assert rfc_error(register(tenant, CC_CLIENT, token)) == (401, "invalid_token")


def test_another_tenants_initial_access_token_is_401(
    dcr_tenant, initial_token, register, rfc_error
):
    tenant, other = dcr_tenant(), dcr_tenant()
    assert rfc_error(register(tenant, CC_CLIENT, initial_token(other))) == (401, "invalid_token")


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example.com/cb",  # http only for loopback
        "https://app.example.com/cb#fragment",
        "https://*.example.com/cb",
        "javascript:alert(1)",
        "/relative/cb",
        'https://app.example.com/"quoted"\\',  # echoed safely in error_description
    ],
)
def test_a_bad_redirect_uri_is_invalid_redirect_uri_and_spends_no_use(
    dcr_tenant, initial_token, register, rfc_error, uri
):
    tenant = dcr_tenant()
    token = initial_token(tenant, max_uses=1)
    metadata = {"grant_types": ["authorization_code"], "redirect_uris": [uri]}
    assert rfc_error(register(tenant, metadata, token)) == (400, "invalid_redirect_uri")
    assert register(tenant, CC_CLIENT, token).status_code == 201  # the one use is still there


def test_the_code_grant_without_a_redirect_uri_is_invalid_redirect_uri(
    dcr_tenant, register, rfc_error
):
    # RFC 7591 §2: omitted grant_types means authorization_code, which needs a redirect URI.
    tenant = dcr_tenant(requires_token=False)
    assert rfc_error(register(tenant, {"client_name": "x"})) == (400, "invalid_redirect_uri")


@pytest.mark.parametrize(
    "scope",
    ["clients:write", "tenants:read", "users:write", "keys:write", "audit:read", "usage:read"],
)
def test_management_scopes_are_refused(dcr_tenant, register, rfc_error, scope):
    tenant = dcr_tenant(requires_token=False)
    refused = register(tenant, {**CC_CLIENT, "scope": f"orders:read {scope}"})
    assert rfc_error(refused) == (400, "invalid_client_metadata")
    assert scope in refused.json()["error_description"]


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"token_endpoint_auth_method": "client_secret_jwt"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),  # no keys
        ({"token_endpoint_auth_method": "none"}, "invalid_client_metadata"),  # client creds
        ({"grant_types": ["password"]}, "invalid_client_metadata"),
        ({"grant_types": "client_credentials"}, "invalid_client_metadata"),
        ({"response_types": ["code"]}, "invalid_client_metadata"),
        ({"scope": ["a", "b"]}, "invalid_client_metadata"),
        ({"scope": 'bad"scope'}, "invalid_client_metadata"),
        ({"jwks": "not an object"}, "invalid_client_metadata"),
        ({"jwks_uri": "http://keys.example.com/jwks"}, "invalid_client_metadata"),
        # Server-side request forgery: we would fetch these from inside our network.
        ({"jwks_uri": "https://localhost/jwks"}, "invalid_client_metadata"),
        ({"jwks_uri": "https://127.0.0.1:8443/jwks"}, "invalid_client_metadata"),
        ({"jwks_uri": "https://[::1]/jwks"}, "invalid_client_metadata"),
        ({"jwks_uri": "https://10.0.0.7/jwks"}, "invalid_client_metadata"),
        ({"jwks_uri": "https://192.168.1.1/jwks"}, "invalid_client_metadata"),
        ({"jwks_uri": "https://169.254.169.254/latest/meta-data"}, "invalid_client_metadata"),
        ({"jwks_uri": "https://metadata.google.internal/jwks"}, "invalid_client_metadata"),
        ({"client_name": "x" * 201}, "invalid_client_metadata"),
        ({"client_name": "nul\u0000byte"}, "invalid_client_metadata"),
        ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata"),
        ({"application_type": "desktop"}, "invalid_client_metadata"),
        ({"application_type": ["web"]}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "http://rp.example.com/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "https://rp.example.com/l#x"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "logout"}, "invalid_client_metadata"),
        # We POST logout tokens from inside our network: no internal targets for strangers.
        ({"backchannel_logout_uri": "https://127.0.0.1/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "https://10.1.2.3/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "https://intranet.local/l"}, "invalid_client_metadata"),
        ({"backchannel_logout_session_required": "yes"}, "invalid_client_metadata"),
        ({"backchannel_logout_session_required": True}, "invalid_client_metadata"),  # no URI
        ({"logo_uri": "javascript:alert(1)"}, "invalid_client_metadata"),
        ({"logo_uri": "data:image/png;base64,AAAA"}, "invalid_client_metadata"),
        ({"logo_uri": "http://rp.example.com/logo.png"}, "invalid_client_metadata"),
        ({"logo_uri": 42}, "invalid_client_metadata"),
    ],
)
def test_invalid_metadata_is_invalid_client_metadata(
    dcr_tenant, register, rfc_error, metadata, error
):
    tenant = dcr_tenant(requires_token=False)
    assert rfc_error(register(tenant, {**CC_CLIENT, **metadata})) == (400, error)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"grant_types=client_credentials", "application/x-www-form-urlencoded"),
        (b"[]", "application/json"),
        (b"{not json", "application/json"),
        (b'{"client_name": NaN}', "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_invalid_request(
    dcr_tenant, make, http, rfc_error, body, content_type
):
    tenant = dcr_tenant(requires_token=False)
    response = http.post(
        f"{make.issuer(tenant)}/register", data=body, headers={"Content-Type": content_type}
    )
    assert rfc_error(response) == (400, "invalid_request")


def test_public_and_key_clients_get_no_secret(dcr_tenant, register, public_jwks):
    tenant = dcr_tenant(requires_token=False)
    public = register(
        tenant,
        {
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "grant_types": ["authorization_code"],
            "redirect_uris": ["http://127.0.0.1:8080/cb", "com.example.app:/cb"],
        },
    )
    assert public.status_code == 201, public.text
    assert "client_secret" not in public.json()
    assert "client_secret_expires_at" not in public.json()
    assert public.json()["response_types"] == ["code"]
    keyed = register(
        tenant, {**CC_CLIENT, "token_endpoint_auth_method": "private_key_jwt", "jwks": public_jwks}
    )
    assert keyed.status_code == 201, keyed.text
    assert "client_secret" not in keyed.json()
    assert keyed.json()["jwks"] == public_jwks


BROWSER_METADATA = {
    "application_type": "web",
    "backchannel_logout_uri": "https://rp.example.com/logout?via=idp",
    "backchannel_logout_session_required": True,
    "logo_uri": "https://rp.example.com/logo.png",
}


def test_logout_logo_and_application_type_are_registered_read_and_replaced(
    dcr_tenant, register, http
):
    tenant = dcr_tenant(requires_token=False)
    metadata = {
        "client_name": "Shop",
        "grant_types": ["authorization_code"],
        "redirect_uris": ["https://rp.example.com/cb"],
        **BROWSER_METADATA,
    }
    registered = register(tenant, metadata)
    assert registered.status_code == 201, registered.text
    body = registered.json()
    assert {name: body[name] for name in BROWSER_METADATA} == BROWSER_METADATA
    uri, token = body["registration_client_uri"], body["registration_access_token"]
    read = http.get(uri, headers=bearer(token)).json()
    assert {name: read[name] for name in BROWSER_METADATA} == BROWSER_METADATA

    # RFC 7592 §2.2: omitted fields take their defaults, so leaving them out clears them.
    replaced = http.put(
        uri,
        json={
            "client_id": body["client_id"],
            "application_type": "native",
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": ["com.example.shop:/cb"],
        },
        headers=bearer(token),
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["application_type"] == "native"
    assert not {"backchannel_logout_uri", "logo_uri"} & set(replaced.json())
    assert "backchannel_logout_session_required" not in replaced.json()  # no URI to qualify


def test_token_exchange_is_granted_by_an_administrator_only(dcr_tenant, register):
    tenant = dcr_tenant(requires_token=False)
    exchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    refused = register(tenant, {**CC_CLIENT, "grant_types": ["client_credentials", exchange]})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_client_metadata")


@pytest.mark.parametrize(
    "privileged",
    [
        {"skip_consent": True},
        {"first_party": True},
        {"always_issue_refresh_token": True},
        {"allowed_cors_origins": ["https://evil.example.com"]},
    ],
)
def test_a_registered_client_cannot_give_itself_administrator_only_powers(
    dcr_tenant, register, make, privileged
):
    tenant = dcr_tenant(requires_token=False)
    registered = register(tenant, {**CC_CLIENT, **privileged})
    assert registered.status_code == 201, registered.text  # ignored (RFC 7591 §2), not refused
    assert not set(privileged) & set(registered.json())
    stored = client_service.get_client(make.services.uow(), tenant, registered.json()["client_id"])
    assert (stored.skip_consent, stored.always_issue_refresh_token) == (False, False)
    assert stored.first_party is False
    assert stored.allowed_cors_origins == ()


@pytest.mark.parametrize(
    ("application_type", "redirect_uri"),
    [
        ("web", "com.example.app:/cb"),  # a private-use scheme is for native apps
        ("native", "https://rp.example.com/cb"),  # OIDC Registration §2
        ("native", "http://localhost/cb"),  # RFC 8252 §8.3: loopback IP literals only
    ],
)
def test_redirect_uris_must_suit_the_application_type(
    dcr_tenant, register, rfc_error, application_type, redirect_uri
):
    tenant = dcr_tenant(requires_token=False)
    metadata = {
        "application_type": application_type,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"],
        "redirect_uris": [redirect_uri],
    }
    assert rfc_error(register(tenant, metadata)) == (400, "invalid_redirect_uri")


# --- RFC 7592: the registration access token ----------------------------------------------


@pytest.fixture
def registered(dcr_tenant, register) -> Callable[..., tuple[TenantView, dict[str, Any]]]:
    def build(tenant: TenantView | None = None) -> tuple[TenantView, dict[str, Any]]:
        tenant = tenant or dcr_tenant(requires_token=False)
        response = register(tenant, CC_CLIENT)
        assert response.status_code == 201, response.text
        return tenant, response.json()

    return build


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_another_clients_registration_token_is_401(registered, http, rfc_error, method):
    tenant, mine = registered()
    _, theirs = registered(tenant)
    response = http.request(
        method,
        mine["registration_client_uri"],
        json={**CC_CLIENT, "client_id": mine["client_id"]},
        headers=bearer(theirs["registration_access_token"]),
    )
    assert rfc_error(response) == (401, "invalid_token")
    assert (
        http.get(
            mine["registration_client_uri"], headers=bearer(mine["registration_access_token"])
        ).status_code
        == 200
    )


def test_another_tenants_registration_token_is_401(registered, make, http, rfc_error):
    _, mine = registered()
    other_tenant, theirs = registered()
    # Their token at their own client id, asked of my tenant; and at my client id.
    mine_issuer = mine["registration_client_uri"].rsplit("/register/", 1)[0]
    for client_id in (theirs["client_id"], mine["client_id"]):
        response = http.get(
            f"{mine_issuer}/register/{client_id}",
            headers=bearer(theirs["registration_access_token"]),
        )
        assert rfc_error(response) == (401, "invalid_token")
    assert other_tenant.slug not in mine_issuer


@pytest.mark.parametrize("credential", [None, "idp_rat_wrong", "Basic abc"])
def test_a_missing_or_wrong_registration_token_is_401(registered, http, rfc_error, credential):
    _, mine = registered()
    headers = (
        {}
        if credential is None
        else {"Authorization": credential if " " in credential else f"Bearer {credential}"}
    )
    response = http.get(mine["registration_client_uri"], headers=headers)
    assert rfc_error(response) == (401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_a_client_made_by_the_management_api_cannot_be_managed_with_rfc_7592(
    dcr_tenant, make, http, rfc_error
):
    tenant = dcr_tenant(requires_token=False)
    issued = make.client(tenant)
    response = http.get(
        f"{make.issuer(tenant)}/register/{issued.client.client_id}", headers=bearer(issued.secret)
    )
    assert rfc_error(response) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": "someone-else"}, "invalid_request"),
        ({"client_id": None}, "invalid_request"),
        ({"client_secret": "idp_cs_my-own-choice"}, "invalid_request"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
        ({"scope": "keys:write"}, "invalid_client_metadata"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),
    ],
)
def test_an_update_is_validated_like_a_registration(registered, http, rfc_error, change, error):
    _, mine = registered()
    body = {**mine, **change}
    uri, token = mine["registration_client_uri"], mine["registration_access_token"]
    assert rfc_error(http.put(uri, json=body, headers=bearer(token))) == (400, error)
    assert http.get(uri, headers=bearer(token)).json()["client_id"] == mine["client_id"]


def test_an_update_may_repeat_the_current_secret(registered, http):
    _, mine = registered()
    uri, token = mine["registration_client_uri"], mine["registration_access_token"]
    response = http.put(uri, json={**mine, "client_name": "renamed"}, headers=bearer(token))
    assert response.status_code == 200, response.text
    assert response.json()["client_name"] == "renamed"


def test_registration_off_again_closes_the_configuration_endpoint(
    registered, make, http, rfc_error
):
    tenant, mine = registered()
    tenant_settings.update_settings(
        make.services.uow(),
        tenant.slug,
        {},
        {"dynamic_registration": {"enabled": False}},
        make.services.settings.tokens,
    )
    response = http.get(
        mine["registration_client_uri"], headers=bearer(mine["registration_access_token"])
    )
    assert rfc_error(response) == (404, "invalid_request")


def test_failed_token_attempts_are_limited_per_address(dcr_tenant, register, rfc_error, services):
    limit = services.settings.rate_limits.failed_auth_per_minute
    if 60 - time.time() % 60 < 10:  # counted per fixed minute: start well inside one
        time.sleep(60 - time.time() % 60 + 0.1)
    tenant = dcr_tenant()
    for _ in range(limit):
        assert rfc_error(register(tenant, CC_CLIENT, "idp_iat_guess")) == (401, "invalid_token")
    over = register(tenant, CC_CLIENT, "idp_iat_guess")
    assert rfc_error(over) == (429, "invalid_token")
    assert 1 <= int(over.headers["Retry-After"]) <= 60
