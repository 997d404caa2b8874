"""Introspection (RFC 7662) and revocation (RFC 7009): who may ask about which token."""

from __future__ import annotations

import time

import pytest
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey

from idp.services.oauth_clients.clients import delete_client


@pytest.fixture
def tenant(module_tenant):
    return module_tenant


@pytest.fixture
def owner(make, tenant):
    return make.client(tenant)


@pytest.fixture
def urls(make, tenant) -> dict[str, str]:
    issuer = make.issuer(tenant)
    return {"introspect": f"{issuer}/introspect", "revoke": f"{issuer}/revoke"}


def credentials(issued) -> tuple[str, str]:
    return issued.client.client_id, issued.secret


def introspect(http, urls, issued, token: str, **extra: str):
    return http.post(urls["introspect"], data={"token": token, **extra}, auth=credentials(issued))


def is_active(http, urls, issued, token: str) -> bool:
    response = introspect(http, urls, issued, token)
    assert response.status_code == 200, response.text
    return bool(response.json()["active"])


# --- introspection ------------------------------------------------------------------------


def test_owner_introspects_its_own_token(http, urls, tenant, owner, access_token, make):
    token = access_token(tenant, owner, scope="read")
    response = introspect(http, urls, owner, token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["client_id"] == owner.client.client_id
    assert body["scope"] == "read"
    assert body["iss"] == make.issuer(tenant)
    assert body["token_type"] == "Bearer"


@pytest.mark.parametrize("endpoint", ["introspect", "revoke"])
def test_unauthenticated_caller_is_401(
    http, urls, tenant, owner, access_token, rfc_error, endpoint
):
    token = access_token(tenant, owner)
    response = http.post(urls[endpoint], data={"token": token})
    assert rfc_error(response) == (401, "invalid_client")


@pytest.mark.parametrize("endpoint", ["introspect", "revoke"])
def test_wrong_secret_is_401_with_challenge(
    http, urls, tenant, owner, access_token, rfc_error, endpoint
):
    token = access_token(tenant, owner)
    response = http.post(
        urls[endpoint], data={"token": token}, auth=(owner.client.client_id, "idp_cs_wrong")
    )
    assert rfc_error(response) == (401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_another_clients_token_is_inactive_to_a_plain_client(
    http, urls, make, tenant, owner, access_token
):
    # RFC 7662 §2.2: a caller not allowed to see the token learns only `active: false`.
    token = access_token(tenant, owner)
    stranger = make.client(tenant)
    response = introspect(http, urls, stranger, token)
    assert response.json() == {"active": False}


def test_resource_server_introspects_any_token_of_its_tenant(
    http, urls, make, tenant, owner, access_token
):
    token = access_token(tenant, owner)
    resource_server = make.client(tenant, is_resource_server=True)
    response = introspect(http, urls, resource_server, token)
    assert response.json()["active"] is True
    assert response.json()["client_id"] == owner.client.client_id


def test_token_of_tenant_a_is_inactive_at_tenant_b(http, make, tenant, owner, access_token):
    token = access_token(tenant, owner)
    other = make.tenant()
    resource_server = make.client(other, is_resource_server=True)
    response = http.post(
        f"{make.issuer(other)}/introspect",
        data={"token": token},
        auth=credentials(resource_server),
    )
    assert response.json() == {"active": False}


@pytest.mark.parametrize(
    "garbage",
    ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "\u00e9\u00e8", "x" * 5000],
)
def test_garbage_token_is_inactive(http, urls, owner, garbage):
    assert introspect(http, urls, owner, garbage).json() == {"active": False}


def test_unsigned_copy_of_a_real_token_is_inactive(http, urls, tenant, owner, access_token):
    header, payload, _ = access_token(tenant, owner).split(".")
    assert introspect(http, urls, owner, f"{header}.{payload}.").json() == {"active": False}


@pytest.mark.parametrize("endpoint", ["introspect", "revoke"])
def test_missing_token_parameter_is_invalid_request(http, urls, owner, rfc_error, endpoint):
    response = http.post(
        urls[endpoint], data={"token_type_hint": "access_token"}, auth=credentials(owner)
    )
    assert rfc_error(response) == (400, "invalid_request")


@pytest.mark.parametrize("hint", ["refresh_token", "access_token", "id_token", "bogus"])
def test_token_type_hint_does_not_change_the_answer(http, urls, tenant, owner, access_token, hint):
    # RFC 7662 §2.1: the hint is only an optimisation; an unknown one is ignored.
    token = access_token(tenant, owner)
    response = introspect(http, urls, owner, token, token_type_hint=hint)
    assert response.status_code == 200
    assert response.json()["active"] is True


@pytest.mark.parametrize("audience", ["endpoint called", "token endpoint", "issuer"])
def test_private_key_jwt_client_introspects_its_token(make, access_token, audience):
    # Authlib's client signs for the URL it calls unless told otherwise; the token endpoint
    # (RFC 7523 §3) and the issuer (OIDC Core §9) are accepted everywhere too.
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    key = ECKey.generate_key("P-256", auto_kid=True)
    issued = make.client(
        tenant, auth_method="private_key_jwt", jwks={"keys": [key.as_dict(private=False)]}
    )
    aud = {"endpoint called": None, "token endpoint": f"{issuer}/token", "issuer": issuer}
    signer = PrivateKeyJWT(aud[audience], headers={"kid": key.kid}, alg="ES256")
    session = OAuth2Session(
        issued.client.client_id, key, token_endpoint_auth_method="private_key_jwt"
    )
    session.register_client_auth_method(signer)

    # Authlib's client would sign hour-long assertions; ours live at most a few minutes.
    signer.claims = {"exp": int(time.time()) + 60}
    token = session.fetch_token(f"{issuer}/token", grant_type="client_credentials")
    signer.claims = {"exp": int(time.time()) + 60}  # a new dict, so a new jti
    response = session.introspect_token(f"{issuer}/introspect", token=token["access_token"])
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True


# --- revocation ---------------------------------------------------------------------------


def test_revoked_token_is_inactive(http, urls, tenant, owner, access_token):
    token = access_token(tenant, owner)
    response = http.post(urls["revoke"], data={"token": token}, auth=credentials(owner))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert not is_active(http, urls, owner, token)


def test_revoking_is_idempotent(http, urls, tenant, owner, access_token):
    token = access_token(tenant, owner)
    for _ in range(2):
        response = http.post(urls["revoke"], data={"token": token}, auth=credentials(owner))
        assert response.status_code == 200


def test_revoking_another_clients_token_is_refused_and_it_stays_active(
    http, urls, make, tenant, owner, access_token, rfc_error
):
    # RFC 7009 §2.1: the server checks the token was issued to the caller, else refuses.
    token = access_token(tenant, owner)
    stranger = make.client(tenant)
    response = http.post(urls["revoke"], data={"token": token}, auth=credentials(stranger))
    assert rfc_error(response) == (400, "invalid_grant")
    assert is_active(http, urls, owner, token)


def test_resource_server_revokes_any_token_of_its_tenant(
    http, urls, make, tenant, owner, access_token
):
    # Issue 2 §8: like introspection, revocation is open to a registered resource server.
    token = access_token(tenant, owner)
    resource_server = make.client(tenant, is_resource_server=True)
    response = http.post(urls["revoke"], data={"token": token}, auth=credentials(resource_server))
    assert response.status_code == 200
    assert not is_active(http, urls, owner, token)


def test_revoking_another_tenants_token_leaves_it_active(
    http, urls, make, tenant, owner, access_token
):
    token = access_token(tenant, owner)
    other = make.tenant()
    elsewhere = make.client(other)
    response = http.post(
        f"{make.issuer(other)}/revoke", data={"token": token}, auth=credentials(elsewhere)
    )
    assert response.status_code == 200  # RFC 7009 §2.2: an unknown token is not an error
    assert is_active(http, urls, owner, token)


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "\u00e9"])
def test_revoking_garbage_is_200(http, urls, owner, garbage):
    # RFC 7009 §2.2: invalid tokens do not cause an error response.
    response = http.post(urls["revoke"], data={"token": garbage}, auth=credentials(owner))
    assert response.status_code == 200


@pytest.mark.parametrize("hint", ["refresh_token", "bogus"])
def test_revocation_ignores_an_unknown_or_wrong_hint(http, urls, tenant, owner, access_token, hint):
    # RFC 7009 §2.1: an invalid hint is ignored; the server searches every token type.
    token = access_token(tenant, owner)
    response = http.post(
        urls["revoke"], data={"token": token, "token_type_hint": hint}, auth=credentials(owner)
    )
    assert response.status_code == 200
    assert not is_active(http, urls, owner, token)


def test_revoked_token_is_inactive_to_a_resource_server_too(
    http, urls, make, tenant, owner, access_token
):
    token = access_token(tenant, owner)
    resource_server = make.client(tenant, is_resource_server=True)
    assert is_active(http, urls, resource_server, token)
    http.post(urls["revoke"], data={"token": token}, auth=credentials(owner))
    assert not is_active(http, urls, resource_server, token)


@pytest.mark.parametrize("endpoint", ["introspect", "revoke"])
def test_protocol_endpoints_refuse_get(http, urls, owner, rfc_error, endpoint):
    response = http.get(urls[endpoint], params={"token": "x"}, auth=credentials(owner))
    assert rfc_error(response) == (405, "invalid_request")


def test_a_deleted_clients_tokens_are_inactive(http, urls, make, tenant, owner, access_token):
    token = access_token(tenant, owner)
    resource_server = make.client(tenant, is_resource_server=True)
    assert is_active(http, urls, resource_server, token)
    delete_client(make.services.uow(), tenant, owner.client.client_id)
    assert not is_active(http, urls, resource_server, token)
