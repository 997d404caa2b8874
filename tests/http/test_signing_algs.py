"""Access token signing algorithms per client (DESIGN §4): each verifies with an independent
library against the published JWKS, with the `alg` and `kid` that key is published under."""

from __future__ import annotations

import json

import pytest
from joserfc import jws, jwt
from joserfc.jwk import KeySet, OctKey


@pytest.fixture
def tenant(module_tenant):
    return module_tenant


def published(http, issuer: str) -> dict:
    return http.get(f"{issuer}/jwks.json").json()


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256", "EdDSA"])
def test_client_alg_signs_its_access_tokens(make, http, tenant, access_token, alg):
    issuer = make.issuer(tenant)
    issued = make.client(tenant, access_token_signed_alg=alg)
    token = access_token(tenant, issued)

    header = jws.extract_compact(token.encode()).headers()
    assert header["alg"] == alg
    assert header["typ"] == "at+jwt"  # RFC 9068 §2.1
    jwks = published(http, issuer)
    (jwk,) = [key for key in jwks["keys"] if key["kid"] == header["kid"]]
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"

    claims = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg]).claims
    assert claims["iss"] == issuer
    assert claims["client_id"] == issued.client.client_id


def test_default_alg_is_rs256(make, http, tenant, access_token):
    issued = make.client(tenant)
    token = access_token(tenant, issued)
    assert jws.extract_compact(token.encode()).headers()["alg"] == "RS256"
    key_set = KeySet.import_key_set(published(http, make.issuer(tenant)))
    assert jwt.decode(token, key_set, algorithms=["RS256"]).claims["sub"] == issued.client.client_id


def test_token_relabelled_with_another_alg_is_inactive(make, http, tenant, access_token):
    # RFC 8725 §2.1: HS256 keyed with a published public key must not pass for the real thing.
    issuer = make.issuer(tenant)
    issued = make.client(tenant, access_token_signed_alg="ES256")
    token = access_token(tenant, issued)
    kid = jws.extract_compact(token.encode()).headers()["kid"]
    (public,) = [key for key in published(http, issuer)["keys"] if key["kid"] == kid]
    claims = jwt.decode(token, KeySet.import_key_set({"keys": [public]})).claims
    secret = OctKey.import_key(json.dumps(public).encode())
    forged = jwt.encode({"alg": "HS256", "kid": kid, "typ": "at+jwt"}, claims, secret)
    response = http.post(
        f"{issuer}/introspect",
        data={"token": forged},
        auth=(issued.client.client_id, issued.secret),
    )
    assert response.json() == {"active": False}


def test_introspection_accepts_every_algorithm(make, http, tenant, access_token):
    issuer = make.issuer(tenant)
    for alg in ("RS256", "PS256", "ES256", "EdDSA"):
        issued = make.client(tenant, access_token_signed_alg=alg)
        token = access_token(tenant, issued)
        response = http.post(
            f"{issuer}/introspect",
            data={"token": token},
            auth=(issued.client.client_id, issued.secret),
        )
        assert response.json()["active"] is True, alg
