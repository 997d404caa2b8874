"""Token endpoint errors: each bad request gets its exact RFC 6749 §5.2 answer, never a 500.

Also the resource indicators of RFC 8707 and the security headers every protocol response carries.
"""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

API = "https://api.example.com/"
REPORTS = "https://reports.example.com/v1"


def claims_of(http, issuer: str, token: str) -> dict:
    key_set = KeySet.import_key_set(http.get(f"{issuer}/jwks.json").json())
    return jwt.decode(token, key_set, algorithms=["RS256"]).claims


@pytest.fixture
def tenant(module_tenant):
    return module_tenant


@pytest.fixture
def issued(make, tenant):
    return make.client(tenant, scopes=("read", "write"), resources=(API, REPORTS))


@pytest.fixture
def token_url(make, tenant) -> str:
    return f"{make.issuer(tenant)}/token"


@pytest.fixture
def auth(issued) -> tuple[str, str]:
    return issued.client.client_id, issued.secret


# --- grant types (RFC 6749 §5.2) ----------------------------------------------------------


@pytest.mark.parametrize(
    "grant_type",
    [
        "password",
        "implicit",
        "token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "client_credentials ",
        'bad"grant\\type',
        "gr\u00e4nt",
    ],
)
def test_unsupported_grant_type(http, token_url, auth, rfc_error, grant_type):
    response = http.post(token_url, data={"grant_type": grant_type}, auth=auth)
    assert rfc_error(response) == (400, "unsupported_grant_type")


def test_grant_type_the_client_may_not_use_is_unauthorized_client(http, token_url, auth, rfc_error):
    # RFC 6749 §5.2: authorization_code is supported, just not registered for this client.
    response = http.post(token_url, data={"grant_type": "authorization_code"}, auth=auth)
    assert rfc_error(response) == (400, "unauthorized_client")


@pytest.mark.parametrize("body", [{}, {"grant_type": ""}, {"scope": "read"}])
def test_missing_grant_type_is_invalid_request(http, token_url, auth, rfc_error, body):
    assert rfc_error(http.post(token_url, data=body, auth=auth)) == (400, "invalid_request")


def test_grant_type_not_registered_for_the_client_is_unauthorized_client(
    make, tenant, token_url, http, rfc_error
):
    issued = make.client(
        tenant,
        grant_types=("authorization_code",),
        redirect_uris=("https://app.example.com/cb",),
    )
    response = http.post(
        token_url,
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    )
    assert rfc_error(response) == (400, "unauthorized_client")


# --- scope (RFC 6749 §3.3) ----------------------------------------------------------------


def test_requested_scopes_are_granted(request_token, tenant, issued):
    response = request_token(tenant, issued, scope="write")
    assert response.status_code == 200
    assert response.json()["scope"] == "write"


@pytest.mark.parametrize(
    "scope",
    ["admin", "read admin", 'read "quoted"', "read back\\slash", "r\u00e9ad", "read\x00"],
)
def test_scope_not_registered_for_the_client_is_invalid_scope(
    request_token, tenant, issued, rfc_error, scope
):
    assert rfc_error(request_token(tenant, issued, scope=scope)) == (400, "invalid_scope")


# --- resource indicators (RFC 8707 §2) ----------------------------------------------------


def test_registered_resource_becomes_the_audience(request_token, http, make, tenant, issued):
    response = request_token(tenant, issued, resource=API)
    assert response.status_code == 200
    assert claims_of(http, make.issuer(tenant), response.json()["access_token"])["aud"] == API


def test_two_registered_resources_give_an_audience_list(request_token, http, make, tenant, issued):
    response = request_token(tenant, issued, resource=[API, REPORTS])
    assert response.status_code == 200
    claims = claims_of(http, make.issuer(tenant), response.json()["access_token"])
    assert claims["aud"] == [API, REPORTS]


def test_without_resource_the_audience_is_the_clients_default(
    request_token, http, make, tenant, issued
):
    response = request_token(tenant, issued)
    assert response.status_code == 200
    assert claims_of(http, make.issuer(tenant), response.json()["access_token"])["aud"] == API


@pytest.mark.parametrize(
    "resource",
    [
        "https://unregistered.example.com/",
        "https://api.example.com",  # no trailing slash: not the registered string
        "relative/path",
        "https://api.example.com/#fragment",
        'https://api.example.com/"quoted"',
        "https://api.example.com/\u00e9",
        "",
    ],
)
def test_unregistered_or_malformed_resource_is_invalid_target(
    request_token, tenant, issued, rfc_error, resource
):
    response = request_token(tenant, issued, resource=resource)
    assert rfc_error(response) == (400, "invalid_target")


def test_one_unregistered_resource_among_registered_ones_is_invalid_target(
    request_token, tenant, issued, rfc_error
):
    response = request_token(tenant, issued, resource=[API, "https://evil.example.com/"])
    assert rfc_error(response) == (400, "invalid_target")


# --- request shape: body, content type, parameters ----------------------------------------


def test_oversized_body_is_413_with_an_rfc_error(services, http, token_url, auth, rfc_error):
    size = services.settings.server.max_body_bytes + 1
    body = "grant_type=client_credentials&padding=" + "x" * size
    response = http.post(
        token_url,
        data=body,
        auth=auth,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert rfc_error(response) == (413, "invalid_request")


def test_oversized_chunked_body_is_413_with_an_rfc_error(
    services, http, token_url, auth, rfc_error
):
    # Without Content-Length the limit still holds while the body is read.
    chunk = b"x" * 8192
    count = services.settings.server.max_body_bytes // len(chunk) + 2
    body = (b"grant_type=client_credentials&padding=" if i == 0 else chunk for i in range(count))
    response = http.post(
        token_url,
        data=body,
        auth=auth,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert "Content-Length" not in response.request.headers
    assert rfc_error(response) == (413, "invalid_request")


def test_form_content_type_with_charset_is_accepted(http, token_url, auth):
    response = http.post(
        token_url,
        data=b"grant_type=client_credentials",
        auth=auth,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param("application/json", b'{"grant_type": "client_credentials"}', id="json"),
        pytest.param("text/plain", b"grant_type=client_credentials", id="text-plain"),
        pytest.param(None, b"grant_type=client_credentials", id="no-content-type"),
        pytest.param(
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\n'
            b"client_credentials\r\n--x--\r\n",
            id="multipart",
        ),
        pytest.param(
            "application/x-www-form-urlencoded", b"\xff\xfe\x00\x81garbage\x00", id="garbage"
        ),
        pytest.param(
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&scope=read%zz",
            id="bad-percent-escape",
        ),
        pytest.param(
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&scope=%",
            id="truncated-percent-escape",
        ),
        pytest.param(
            "application/x-www-form-urlencoded",
            b"grant_type=client_credentials&scope=%ff%fe",
            id="percent-encoded-non-utf8",
        ),
        pytest.param(
            "application/x-www-form-urlencoded",
            "grant_type=client_credentials&scope=r\u00e9ad".encode(),
            id="raw-non-ascii",
        ),
    ],
)
def test_malformed_body_is_invalid_request(http, token_url, auth, rfc_error, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    response = http.post(token_url, data=body, auth=auth, headers=headers)
    assert rfc_error(response) == (400, "invalid_request")


@pytest.mark.parametrize(
    "body",
    [
        "grant_type=client_credentials&grant_type=client_credentials",
        "grant_type=client_credentials&scope=read&scope=write",
        "grant_type=client_credentials&client_id=a&client_id=b",
    ],
)
def test_repeated_parameter_is_invalid_request(http, token_url, auth, rfc_error, body):
    # RFC 6749 §3.2: request and response parameters MUST NOT be included more than once.
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    response = http.post(token_url, data=body, auth=auth, headers=headers)
    assert rfc_error(response) == (400, "invalid_request")


def test_parameters_in_the_query_string_are_invalid_request(http, token_url, auth, rfc_error):
    # RFC 6749 §3.2: the token request carries its parameters in the form-encoded body.
    response = http.post(
        f"{token_url}?scope=admin", data={"grant_type": "client_credentials"}, auth=auth
    )
    assert rfc_error(response) == (400, "invalid_request")


def test_get_on_the_token_endpoint_is_405_json_with_allow(http, token_url, auth, rfc_error):
    response = http.get(f"{token_url}?grant_type=client_credentials", auth=auth)
    assert rfc_error(response) == (405, "invalid_request")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("slug", ["no-such-tenant", "UPPER", "x" * 100, "%00", "a%2Fb"])
def test_unknown_tenant_is_404_json(server, http, rfc_error, slug):
    response = http.post(f"{server.url}/t/{slug}/token", data={"grant_type": "client_credentials"})
    assert rfc_error(response) == (404, "invalid_request")


def test_successful_token_response_is_not_cacheable(request_token, tenant, issued):
    # RFC 6749 §5.1: Cache-Control: no-store on every response carrying a token.
    response = request_token(tenant, issued)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("application/json")


# --- security headers ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/token", "/jwks.json", "/.well-known/openid-configuration"])
def test_protocol_responses_carry_security_headers(http, make, tenant, path):
    url = f"{make.issuer(tenant)}{path}"
    response = http.post(url, data={}) if path == "/token" else http.get(url)
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_well_formed_request_id_is_echoed(http, token_url):
    response = http.post(token_url, data={}, headers={"X-Request-Id": "trace-abc.123_x"})
    assert response.headers["X-Request-Id"] == "trace-abc.123_x"


@pytest.mark.parametrize("incoming", ["has space", "x" * 65, "inject\u00e9", "a;b"])
def test_malformed_request_id_is_replaced(http, token_url, incoming):
    response = http.post(token_url, data={}, headers={"X-Request-Id": incoming})
    assert response.headers["X-Request-Id"] not in ("", incoming)
