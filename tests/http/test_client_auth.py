"""Client authentication at the token endpoint (RFC 6749 §2.3, RFC 7523 §3), one test per attack.

Every failure is `401 invalid_client` (RFC 6749 §5.2); a client that tried HTTP Basic also gets a
`WWW-Authenticate: Basic` challenge. Assertions for `private_key_jwt` are signed by an independent
library (joserfc, or Authlib's client side), with keys registered inline or served by a real
`jwks_uri` on loopback.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey

from idp.oauth.client_auth import MIN_REFETCH_SECONDS

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def basic(value: str | bytes) -> dict[str, str]:
    raw = value.encode() if isinstance(value, str) else value
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def b64url_json(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def assert_basic_challenge(response: requests.Response) -> None:
    # RFC 6749 §5.2: a client that used the Authorization header gets a matching challenge.
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


# --- client_secret_basic -------------------------------------------------------------------


def test_client_secret_basic_succeeds(make, http):
    tenant = make.tenant()
    issued = make.client(tenant, auth_method="client_secret_basic")
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_client_secret_basic_wrong_secret_is_401_with_challenge(make, http, rfc_error):
    tenant = make.tenant()
    issued = make.client(tenant)
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, "idp_cs_wrong"),
    )
    assert rfc_error(response) == (401, "invalid_client")
    assert_basic_challenge(response)


def test_unknown_client_is_401_with_challenge(make, http, rfc_error):
    tenant = make.tenant()
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=("no-such-client", "idp_cs_whatever"),
    )
    assert rfc_error(response) == (401, "invalid_client")
    assert_basic_challenge(response)


def test_no_client_authentication_is_401(make, http, rfc_error):
    tenant = make.tenant()
    response = http.post(f"{make.issuer(tenant)}/token", data={"grant_type": "client_credentials"})
    assert rfc_error(response) == (401, "invalid_client")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Basic !!!not-base64!!!", id="bad-base64"),
        pytest.param(basic(b"\xff\xfe:\xfa\xfb")["Authorization"], id="non-utf8-credentials"),
        pytest.param("Basic \xe9\xe8\xe0==", id="non-ascii-header"),
        pytest.param(basic("client-id-without-colon")["Authorization"], id="no-colon"),
        pytest.param(basic(":secret-without-id")["Authorization"], id="empty-client-id"),
        pytest.param(basic("a\x00b:secret")["Authorization"], id="nul-in-client-id"),
        pytest.param("Basic", id="no-credentials"),
    ],
)
def test_malformed_basic_header_is_401_never_500(make, http, rfc_error, header):
    tenant = make.tenant()
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": header},
    )
    assert rfc_error(response) == (401, "invalid_client")
    assert_basic_challenge(response)


def test_client_of_tenant_a_does_not_exist_at_tenant_b(make, http, rfc_error):
    tenant_a, tenant_b = make.tenant(), make.tenant()
    issued = make.client(tenant_a)
    response = http.post(
        f"{make.issuer(tenant_b)}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    )
    assert rfc_error(response) == (401, "invalid_client")


# --- client_secret_post --------------------------------------------------------------------


def test_client_secret_post_succeeds(make, http):
    tenant = make.tenant()
    issued = make.client(tenant, auth_method="client_secret_post")
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client.client_id,
            "client_secret": issued.secret,
        },
    )
    assert response.status_code == 200


def test_client_secret_post_wrong_secret_is_401(make, http, rfc_error):
    tenant = make.tenant()
    issued = make.client(tenant, auth_method="client_secret_post")
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client.client_id,
            "client_secret": "idp_cs_wrong",
        },
    )
    assert rfc_error(response) == (401, "invalid_client")


def test_client_secret_post_unknown_client_is_401(make, http, rfc_error):
    tenant = make.tenant()
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "no-such-client",
            "client_secret": "idp_cs_whatever",
        },
    )
    assert rfc_error(response) == (401, "invalid_client")


def test_post_credentials_for_a_basic_client_are_refused(make, http, rfc_error):
    tenant = make.tenant()
    issued = make.client(tenant, auth_method="client_secret_basic")
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": issued.client.client_id,
            "client_secret": issued.secret,
        },
    )
    assert rfc_error(response) == (401, "invalid_client")


def test_basic_credentials_for_a_post_client_are_refused(make, http, rfc_error):
    tenant = make.tenant()
    issued = make.client(tenant, auth_method="client_secret_post")
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    )
    assert rfc_error(response) == (401, "invalid_client")
    assert_basic_challenge(response)


def test_two_authentication_methods_in_one_request_are_invalid_request(make, http, rfc_error):
    # RFC 6749 §2.3: the client MUST NOT use more than one authentication method per request.
    tenant = make.tenant()
    issued = make.client(tenant, auth_method="client_secret_basic")
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials", "client_secret": issued.secret},
        auth=(issued.client.client_id, issued.secret),
    )
    assert rfc_error(response) == (400, "invalid_request")


def test_client_id_parameter_naming_another_client_is_refused(make, http, rfc_error):
    tenant = make.tenant()
    issued, other = make.client(tenant), make.client(tenant)
    response = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials", "client_id": other.client.client_id},
        auth=(issued.client.client_id, issued.secret),
    )
    assert rfc_error(response) == (401, "invalid_client")


# --- private_key_jwt (RFC 7523 §2.2, §3) ---------------------------------------------------


class JwksHost:
    """A real HTTP server on loopback serving JWK sets, one fresh path per published set."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requested: list[str] = []
        documents, requested = self.documents, self.requested

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requested.append(self.path)
                body = documents.get(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body or b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def publish(self, jwks: dict[str, Any]) -> str:
        return self.publish_raw(json.dumps(jwks).encode())

    def publish_raw(self, document: bytes) -> str:
        # A fresh path per test: the server caches each jwks_uri document.
        path = f"/{secrets.token_hex(8)}/jwks.json"
        self.documents[path] = document
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture(scope="module")
def jwks_host() -> Iterator[JwksHost]:
    host = JwksHost()
    yield host
    host.stop()


def new_key() -> ECKey:
    return ECKey.generate_key("P-256", auto_kid=True)


def public_jwks(*keys: Any) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) | {"use": "sig"} for key in keys]}


def make_assertion(
    key: Any,
    client_id: str,
    audience: str | list[str],
    lifetime: int = 60,
    alg: str = "ES256",
    kid: str | None = None,
    omit: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
        "jti": secrets.token_urlsafe(16),
    }
    body.update(claims)
    for name in omit:
        body.pop(name)
    return jwt.encode({"alg": alg, "kid": kid or key.kid}, body, key, algorithms=[alg])


def post_assertion(
    http: requests.Session, token_url: str, assertion: str, **data: str
) -> requests.Response:
    data.setdefault("grant_type", "client_credentials")
    return http.post(
        token_url,
        data={**data, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion},
    )


@pytest.fixture
def jwt_client(make: Any) -> tuple[Any, Any, ECKey, str]:
    """A tenant, a private_key_jwt client registered with an inline JWKS, its key, token URL."""
    tenant = make.tenant()
    key = new_key()
    issued = make.client(tenant, auth_method="private_key_jwt", jwks=public_jwks(key))
    return tenant, issued, key, f"{make.issuer(tenant)}/token"


def test_private_key_jwt_with_inline_jwks_succeeds(jwt_client, http):
    _, issued, key, token_url = jwt_client
    response = post_assertion(
        http, token_url, make_assertion(key, issued.client.client_id, token_url)
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_private_key_jwt_accepts_the_issuer_as_audience(jwt_client, make, http):
    # OIDC Core §9 and RFC 7523bis: the issuer identifier is also a valid audience.
    tenant, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, make.issuer(tenant))
    assert post_assertion(http, token_url, assertion).status_code == 200


def test_private_key_jwt_with_jwks_uri_and_authlib_client_succeeds(make, http, jwks_host):
    tenant = make.tenant()
    key = RSAKey.generate_key(2048, auto_kid=True)
    uri = jwks_host.publish(public_jwks(key))
    issued = make.client(tenant, auth_method="private_key_jwt", jwks_uri=uri)
    token_url = f"{make.issuer(tenant)}/token"
    session = OAuth2Session(
        issued.client.client_id, key, token_endpoint_auth_method="private_key_jwt"
    )
    # Authlib's client defaults to an hour-long assertion; ours accept at most a few minutes.
    short_lived = {"exp": int(time.time()) + 60}
    session.register_client_auth_method(
        PrivateKeyJWT(token_url, claims=short_lived, headers={"kid": key.kid})
    )
    token = session.fetch_token(token_url, grant_type="client_credentials")
    assert token["token_type"] == "Bearer"


def test_unreachable_jwks_uri_is_401(make, http, rfc_error, jwks_host):
    tenant = make.tenant()
    key = new_key()
    missing = jwks_host.publish(public_jwks(key)) + "-missing"
    issued = make.client(tenant, auth_method="private_key_jwt", jwks_uri=missing)
    token_url = f"{make.issuer(tenant)}/token"
    response = post_assertion(
        http, token_url, make_assertion(key, issued.client.client_id, token_url)
    )
    assert rfc_error(response) == (401, "invalid_client")


def test_a_self_registered_clients_jwks_uri_on_a_private_address_is_never_fetched(
    make, http, rfc_error, jwks_host
):
    """RFC 7591 clients are strangers: fetching their jwks_uri from inside our network must not
    reach private addresses, whatever the name resolves to at fetch time (services/outbound.py).
    The same URI registered by an admin is trusted and fetched."""
    tenant = make.tenant()
    key = new_key()
    uri = jwks_host.publish(public_jwks(key))
    token_url = f"{make.issuer(tenant)}/token"
    stranger = make.client(
        tenant, auth_method="private_key_jwt", jwks_uri=uri, registration_token_digest="0" * 64
    )
    refused = post_assertion(
        http, token_url, make_assertion(key, stranger.client.client_id, token_url)
    )
    assert rfc_error(refused) == (401, "invalid_client")
    assert urlsplit(uri).path not in jwks_host.requested

    trusted = make.client(tenant, auth_method="private_key_jwt", jwks_uri=uri)
    accepted = post_assertion(
        http, token_url, make_assertion(key, trusted.client.client_id, token_url)
    )
    assert accepted.status_code == 200
    assert urlsplit(uri).path in jwks_host.requested


@pytest.mark.parametrize(
    "document",
    [
        pytest.param(b"{}", id="no-keys"),
        pytest.param(b'{"keys": "nope"}', id="keys-not-a-list"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"jwks"', id="string"),
        pytest.param(b"<html>not json</html>", id="not-json"),
        pytest.param(b'{"keys": [{"kty": "EC"}]}', id="incomplete-key"),
    ],
)
def test_unusable_jwks_uri_document_is_401(make, http, rfc_error, jwks_host, document):
    tenant = make.tenant()
    key = new_key()
    issued = make.client(
        tenant, auth_method="private_key_jwt", jwks_uri=jwks_host.publish_raw(document)
    )
    token_url = f"{make.issuer(tenant)}/token"
    response = post_assertion(
        http, token_url, make_assertion(key, issued.client.client_id, token_url)
    )
    assert rfc_error(response) == (401, "invalid_client")


def test_oversized_jwks_uri_document_is_401(make, http, rfc_error, jwks_host):
    # Even holding the right key: a multi-megabyte document is not loaded into every worker.
    tenant = make.tenant()
    key = new_key()
    padded = public_jwks(key) | {"padding": "x" * 2_000_000}
    issued = make.client(tenant, auth_method="private_key_jwt", jwks_uri=jwks_host.publish(padded))
    token_url = f"{make.issuer(tenant)}/token"
    response = post_assertion(
        http, token_url, make_assertion(key, issued.client.client_id, token_url)
    )
    assert rfc_error(response) == (401, "invalid_client")


def test_replayed_assertion_is_refused(jwt_client, http, rfc_error):
    # RFC 7523 §3 (7): the jti is single use.
    _, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, token_url)
    assert post_assertion(http, token_url, assertion).status_code == 200
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_expired_assertion_is_refused(jwt_client, http, rfc_error):
    _, issued, key, token_url = jwt_client
    now = int(time.time())
    assertion = make_assertion(
        key, issued.client.client_id, token_url, iat=now - 600, exp=now - 300
    )
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_assertion_for_another_audience_is_refused(jwt_client, http, rfc_error):
    _, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, "https://other.example/token")
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_assertion_signed_by_another_key_is_refused(jwt_client, http, rfc_error):
    _, issued, key, token_url = jwt_client
    impostor = ECKey.generate_key("P-256", parameters={"kid": key.kid})
    assertion = make_assertion(impostor, issued.client.client_id, token_url)
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_assertion_with_an_unknown_kid_is_refused(jwt_client, http, rfc_error):
    _, issued, _, token_url = jwt_client
    assertion = make_assertion(new_key(), issued.client.client_id, token_url)
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


@pytest.mark.parametrize("claim", ["exp", "jti", "iss", "sub", "aud"])
def test_assertion_missing_a_required_claim_is_refused(jwt_client, http, rfc_error, claim):
    _, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, token_url, omit=(claim,))
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_assertion_living_longer_than_the_maximum_is_refused(jwt_client, services, http, rfc_error):
    _, issued, key, token_url = jwt_client
    max_age = services.settings.tokens.client_assertion_max_age_seconds
    assertion = make_assertion(key, issued.client.client_id, token_url, lifetime=max_age + 120)
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


@pytest.mark.parametrize("exp", [float("nan"), float("inf"), "soon", True, None])
def test_assertion_with_a_non_numeric_or_infinite_exp_is_refused(jwt_client, http, rfc_error, exp):
    # NaN passes every comparison: unchecked, it would make an assertion that never expires.
    _, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, token_url, exp=exp)
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_every_advertised_assertion_alg_is_accepted(make, http):
    # RFC 8414 §2: token_endpoint_auth_signing_alg_values_supported lists what works.
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    metadata = http.get(f"{issuer}/.well-known/openid-configuration").json()
    rsa = RSAKey.generate_key(2048, auto_kid=True)
    keys = {
        "RS": rsa,
        "PS": rsa,
        "ES256": ECKey.generate_key("P-256", auto_kid=True),
        "ES384": ECKey.generate_key("P-384", auto_kid=True),
        "ES512": ECKey.generate_key("P-521", auto_kid=True),
        "EdDSA": OKPKey.generate_key("Ed25519", auto_kid=True),
    }
    issued = make.client(
        tenant,
        auth_method="private_key_jwt",
        jwks=public_jwks(*{id(key): key for key in keys.values()}.values()),
    )
    token_url = metadata["token_endpoint"]
    for alg in metadata["token_endpoint_auth_signing_alg_values_supported"]:
        key = keys.get(alg) or keys[alg[:2]]
        assertion = make_assertion(key, issued.client.client_id, token_url, alg=alg)
        assert post_assertion(http, token_url, assertion).status_code == 200, alg


def test_assertion_whose_issuer_is_not_its_subject_is_refused(jwt_client, http, rfc_error):
    # RFC 7523 §3 (1)/(2): iss and sub are both the client_id.
    _, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, token_url, iss="someone-else")
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


@pytest.mark.parametrize("jti", [12345, "", "x" * 200, "a\x00b"])
def test_assertion_with_a_malformed_jti_is_refused(jwt_client, http, rfc_error, jti):
    _, issued, key, token_url = jwt_client
    assertion = make_assertion(key, issued.client.client_id, token_url, jti=jti)
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_unsigned_assertion_is_refused(jwt_client, http, rfc_error):
    # RFC 8725 §3.1: "none" is never accepted.
    _, issued, _, token_url = jwt_client
    now = int(time.time())
    claims = {
        "iss": issued.client.client_id,
        "sub": issued.client.client_id,
        "aud": token_url,
        "exp": now + 60,
        "jti": secrets.token_urlsafe(16),
    }
    assertion = f"{b64url_json({'alg': 'none'})}.{b64url_json(claims)}."
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_assertion_macd_with_the_public_key_is_refused(jwt_client, http, rfc_error):
    # Algorithm confusion (RFC 8725 §2.1): HS256 keyed with the registered public key.
    _, issued, key, token_url = jwt_client
    public = json.dumps(key.as_dict(private=False)).encode()
    forged = make_assertion(
        OctKey.import_key(public), issued.client.client_id, token_url, alg="HS256", kid=key.kid
    )
    assert rfc_error(post_assertion(http, token_url, forged)) == (401, "invalid_client")


def test_garbage_assertion_is_401_never_500(jwt_client, http, rfc_error):
    _, _, _, token_url = jwt_client
    for garbage in ["not-a-jwt", "a.b.c", "e30.e30.", "\u00e9.\u00e9.\u00e9"]:
        assert rfc_error(post_assertion(http, token_url, garbage)) == (401, "invalid_client")


def test_assertion_with_client_id_parameter_of_another_client_is_refused(
    jwt_client, make, http, rfc_error
):
    # RFC 7521 §4.2: a client_id parameter, when sent, must identify the assertion's client.
    tenant, issued, key, token_url = jwt_client
    other = make.client(tenant)
    assertion = make_assertion(key, issued.client.client_id, token_url)
    response = post_assertion(http, token_url, assertion, client_id=other.client.client_id)
    assert rfc_error(response) == (401, "invalid_client")


def test_assertion_for_a_secret_client_is_refused(make, http, rfc_error):
    # A client registered for client_secret_basic cannot switch to an assertion.
    tenant = make.tenant()
    key = new_key()
    issued = make.client(tenant, auth_method="client_secret_basic", jwks=public_jwks(key))
    token_url = f"{make.issuer(tenant)}/token"
    assertion = make_assertion(key, issued.client.client_id, token_url)
    assert rfc_error(post_assertion(http, token_url, assertion)) == (401, "invalid_client")


def test_assertion_of_tenant_a_client_is_refused_at_tenant_b(jwt_client, make, http, rfc_error):
    _, issued, key, _ = jwt_client
    other_token_url = f"{make.issuer(make.tenant())}/token"
    assertion = make_assertion(key, issued.client.client_id, other_token_url)
    assert rfc_error(post_assertion(http, other_token_url, assertion)) == (401, "invalid_client")


# --- failed-authentication rate limit ------------------------------------------------------


def test_failed_authentications_are_limited_per_tenant_and_address(services, make, http, rfc_error):
    limit = services.settings.rate_limits.failed_auth_per_minute
    # The limit counts per fixed minute window; start well inside one so the test is exact.
    if 60 - time.time() % 60 < 10:
        time.sleep(60 - time.time() % 60 + 0.1)
    tenant, other_tenant = make.tenant(), make.tenant()
    issued = make.client(tenant)
    token_url = f"{make.issuer(tenant)}/token"
    wrong = (issued.client.client_id, "idp_cs_wrong")
    for _ in range(limit):
        response = http.post(token_url, data={"grant_type": "client_credentials"}, auth=wrong)
        assert rfc_error(response) == (401, "invalid_client")

    over = http.post(token_url, data={"grant_type": "client_credentials"}, auth=wrong)
    assert rfc_error(over) == (429, "invalid_client")
    assert 1 <= int(over.headers["Retry-After"]) <= 60

    # Blocked means blocked: even the right secret waits until the window ends.
    right = http.post(
        token_url,
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    )
    assert rfc_error(right) == (429, "invalid_client")
    assert "Retry-After" in right.headers

    # Another tenant's counter is its own.
    elsewhere = make.client(other_tenant)
    response = http.post(
        f"{make.issuer(other_tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=(elsewhere.client.client_id, elsewhere.secret),
    )
    assert response.status_code == 200


def test_a_client_rotating_its_jwks_uri_keys_is_followed_at_most_every_few_seconds(
    make, http, jwks_host
):
    """OIDC Core §10.1.1: an unknown kid makes us fetch the jwks_uri again, but not at once."""
    tenant = make.tenant()
    old, new = new_key(), new_key()
    uri = jwks_host.publish(public_jwks(old))
    issued = make.client(tenant, auth_method="private_key_jwt", jwks_uri=uri)
    token_url = f"{make.issuer(tenant)}/token"
    client_id = issued.client.client_id
    assert (
        post_assertion(http, token_url, make_assertion(old, client_id, token_url)).status_code
        == 200
    )

    jwks_host.documents[urlsplit(uri).path] = json.dumps(public_jwks(new)).encode()
    # Just fetched: an unknown kid does not trigger another fetch yet.
    too_soon = post_assertion(http, token_url, make_assertion(new, client_id, token_url))
    assert too_soon.status_code == 401
    time.sleep(MIN_REFETCH_SECONDS + 0.2)
    rotated = post_assertion(http, token_url, make_assertion(new, client_id, token_url))
    assert rotated.status_code == 200
    # The old key left the client's set, so it no longer authenticates.
    gone = post_assertion(http, token_url, make_assertion(old, client_id, token_url))
    assert gone.status_code == 401
