"""The foundation journey: discover, fetch keys, get a token, verify it independently,
introspect it, revoke it, and see it inactive."""

from __future__ import annotations

from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet


def test_standard_client_discovers_gets_verifies_introspects_and_revokes(make, http):
    tenant = make.tenant()
    issued = make.client(tenant, scopes=("orders:read", "orders:write"))
    issuer = make.issuer(tenant)

    metadata = http.get(f"{issuer}/.well-known/openid-configuration").json()
    assert metadata["issuer"] == issuer
    key_set = KeySet.import_key_set(http.get(metadata["jwks_uri"]).json())

    client = OAuth2Session(issued.client.client_id, issued.secret, scope="orders:read")
    token = client.fetch_token(metadata["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "orders:read"

    # Verified by joserfc (not our verifier) against the published JWKS, RFC 9068 shape.
    decoded = jwt.decode(token["access_token"], key_set, algorithms=["RS256"])
    assert decoded.header["typ"] == "at+jwt"
    claims = decoded.claims
    assert claims["iss"] == issuer
    assert claims["client_id"] == issued.client.client_id
    assert claims["sub"] == issued.client.client_id
    assert claims["aud"] == issuer
    assert claims["scope"] == "orders:read"
    assert claims["exp"] - claims["iat"] == 3600
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}).validate(claims)

    auth = (issued.client.client_id, issued.secret)
    introspected = http.post(
        metadata["introspection_endpoint"], data={"token": token["access_token"]}, auth=auth
    )
    assert introspected.status_code == 200
    assert introspected.json()["active"] is True
    assert introspected.json()["jti"] == claims["jti"]

    revoked = http.post(
        metadata["revocation_endpoint"], data={"token": token["access_token"]}, auth=auth
    )
    assert revoked.status_code == 200

    after = http.post(
        metadata["introspection_endpoint"], data={"token": token["access_token"]}, auth=auth
    )
    assert after.json() == {"active": False}


def test_rfc8414_metadata_is_served_at_both_well_known_locations(server, make, http):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    by_path = http.get(f"{server.url}/.well-known/oauth-authorization-server/t/{tenant.slug}")
    by_issuer = http.get(f"{issuer}/.well-known/oauth-authorization-server")
    oidc = http.get(f"{issuer}/.well-known/openid-configuration")
    assert by_path.status_code == by_issuer.status_code == oidc.status_code == 200
    assert by_path.json() == by_issuer.json() == oidc.json()
    assert by_path.json()["grant_types_supported"] == [
        "authorization_code",
        "client_credentials",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    ]
