"""Ordinary token and introspection requests are answered before Flask
(idp/http/oauth/fast_path.py); everything else, errors above all, is Flask's.

A client must not be able to tell which path answered: the live tests ask each question once on
the fast path and once through Flask (a request with `Origin` always goes through Flask, for
CORS) and compare. The middleware tests put a recording stand-in where Flask would be, to show
which requests reach it and that their body arrives intact.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.http.oauth.fast_path import FastPath
from idp.services.rate_limits import FailureLimiter
from idp.services.tokens.access_tokens import revoke_access_token

COMPARED = (
    "Content-Type",
    "Cache-Control",
    "Pragma",
    "Vary",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Content-Security-Policy",
)
UNREGISTERED_ORIGIN = "https://nobody.example.com"
PER_TOKEN = {"iat", "nbf", "exp", "jti"}


def claims_of(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    return dict(jwt.decode(token, KeySet.import_key_set(jwks)).claims)


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_both_paths_issue_the_same_token_with_the_same_headers(
    http, make, module_tenant, auth_method
):
    issued = make.client(module_tenant, auth_method=auth_method, scopes=("read", "write"))
    issuer = make.issuer(module_tenant)
    data = {"grant_type": "client_credentials", "scope": "read"}
    credentials: dict[str, Any] = {"auth": (issued.client.client_id, issued.secret)}
    if auth_method == "client_secret_post":
        data |= {"client_id": issued.client.client_id, "client_secret": issued.secret}
        credentials = {}

    fast = http.post(f"{issuer}/token", data=data, **credentials)
    through_flask = http.post(
        f"{issuer}/token", data=data, headers={"Origin": UNREGISTERED_ORIGIN}, **credentials
    )

    assert fast.status_code == through_flask.status_code == 200
    for name in COMPARED:
        assert fast.headers.get(name) == through_flask.headers.get(name), name
    fast_body, flask_body = fast.json(), through_flask.json()
    assert (
        fast_body.keys()
        == flask_body.keys()
        == {
            "access_token",
            "token_type",
            "expires_in",
            "scope",
        }
    )
    assert {k: v for k, v in fast_body.items() if k != "access_token"} == {
        k: v for k, v in flask_body.items() if k != "access_token"
    }
    jwks = http.get(f"{issuer}/jwks.json").json()
    fast_claims = claims_of(fast_body["access_token"], jwks)
    flask_claims = claims_of(flask_body["access_token"], jwks)
    assert {k: v for k, v in fast_claims.items() if k not in PER_TOKEN} == {
        k: v for k, v in flask_claims.items() if k not in PER_TOKEN
    }
    assert fast_claims["scope"] == "read" and fast_claims["client_id"] == issued.client.client_id


def test_both_paths_introspect_alike(http, make, module_tenant, access_token):
    issued = make.client(module_tenant)
    token = access_token(module_tenant, issued)
    url = f"{make.issuer(module_tenant)}/introspect"
    auth = (issued.client.client_id, issued.secret)

    fast = http.post(url, data={"token": token}, auth=auth)
    through_flask = http.post(
        url, data={"token": token}, auth=auth, headers={"Origin": UNREGISTERED_ORIGIN}
    )

    assert fast.status_code == through_flask.status_code == 200
    for name in COMPARED:
        assert fast.headers.get(name) == through_flask.headers.get(name), name
    assert fast.json() == through_flask.json()
    assert fast.json()["active"] is True and fast.json()["client_id"] == issued.client.client_id


def test_request_ids_are_echoed_or_replaced_on_the_fast_path(http, make, module_tenant):
    issued = make.client(module_tenant)
    url = f"{make.issuer(module_tenant)}/token"
    auth = (issued.client.client_id, issued.secret)
    data = {"grant_type": "client_credentials"}
    echoed = http.post(url, data=data, auth=auth, headers={"X-Request-Id": "abc-123"})
    assert echoed.status_code == 200 and echoed.headers["X-Request-Id"] == "abc-123"
    replaced = http.post(url, data=data, auth=auth, headers={"X-Request-Id": "<script>"})
    assert replaced.headers["X-Request-Id"] not in ("", "<script>")


def test_a_revoked_token_is_inactive_whichever_path_asks(http, make, module_tenant, access_token):
    issued = make.client(module_tenant)
    token = access_token(module_tenant, issued)
    issuer = make.issuer(module_tenant)
    auth = (issued.client.client_id, issued.secret)
    assert http.post(f"{issuer}/revoke", data={"token": token}, auth=auth).status_code == 200
    assert http.post(f"{issuer}/introspect", data={"token": token}, auth=auth).json() == {
        "active": False
    }


# --- the middleware around a stand-in for Flask ------------------------------------------------


@dataclass
class Lane:
    """The fast path around a stand-in app that records the body of each request reaching it."""

    middleware: FastPath
    reached: list[bytes]
    failures: FailureLimiter

    def post(
        self, path: str, form: dict[str, str] | bytes, **environ: str
    ) -> tuple[str, dict[str, Any] | None]:
        body = form if isinstance(form, bytes) else urlencode(form).encode()
        base = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": BytesIO(body),
        }
        statuses: list[str] = []
        answer = b"".join(
            self.middleware({**base, **environ}, lambda status, headers: statuses.append(status))
        )
        return statuses[0], json.loads(answer) if answer else None


@pytest.fixture
def lane(services) -> Lane:
    reached: list[bytes] = []

    def flask_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        reached.append(environ["wsgi.input"].read())
        start_response("204 No Content", [])
        return []

    failures = FailureLimiter(services.store, "fast-path-test", limit=1, window=60)
    return Lane(FastPath(flask_app, services, failures, https=False), reached, failures)


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def world(make, module_tenant):
    """A tenant's Basic client, its post client and a resource server, with tokens of each."""

    @dataclass
    class World:
        slug: str
        basic: Any
        post: Any
        resource_server: Any

    return World(
        slug=module_tenant.slug,
        basic=make.client(module_tenant, resources=("https://api.example.com",)),
        post=make.client(module_tenant, auth_method="client_secret_post"),
        resource_server=make.client(module_tenant, is_resource_server=True),
    )


def test_ordinary_requests_never_reach_flask(lane, world):
    client = world.basic.client.client_id
    authorization = basic(client, world.basic.secret)
    status, body = lane.post(
        f"/t/{world.slug}/token",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=authorization,
    )
    assert status == "200 OK" and body and body["scope"] == "read"
    status, answer = lane.post(
        f"/t/{world.slug}/introspect",
        {"token": body["access_token"], "token_type_hint": "access_token"},
        HTTP_AUTHORIZATION=authorization,
    )
    assert status == "200 OK" and answer and answer["active"] is True
    post = world.post
    status, body = lane.post(
        f"/t/{world.slug}/token",
        {
            "grant_type": "client_credentials",
            "client_id": post.client.client_id,
            "client_secret": post.secret,
        },
    )
    assert status == "200 OK" and body and body["token_type"] == "Bearer"
    assert lane.reached == []


def test_everything_out_of_the_ordinary_reaches_flask_with_its_body(
    lane, world, services, module_tenant, http, make
):
    jwks = http.get(f"{make.issuer(module_tenant)}/jwks.json").json()
    slug = world.slug
    client, secret = world.basic.client.client_id, world.basic.secret
    auth = basic(client, secret)
    token_url, introspect_url = f"/t/{slug}/token", f"/t/{slug}/introspect"
    grant = {"grant_type": "client_credentials"}
    _, issued = lane.post(token_url, grant, HTTP_AUTHORIZATION=auth)
    assert issued is not None
    _, resource_servers = lane.post(
        token_url,
        grant,
        HTTP_AUTHORIZATION=basic(
            world.resource_server.client.client_id, world.resource_server.secret
        ),
    )
    assert resource_servers is not None
    _, revoked = lane.post(token_url, grant, HTTP_AUTHORIZATION=auth)
    assert revoked is not None
    claims = jwt.decode(revoked["access_token"], KeySet.import_key_set(jwks)).claims
    revoke_access_token(services.revocations, module_tenant, claims)
    post = world.post
    cases: list[tuple[str, dict[str, str] | bytes, dict[str, str]]] = [
        # Not ours at all.
        (f"/t/{slug}/revoke", {"token": issued["access_token"]}, {"HTTP_AUTHORIZATION": auth}),
        ("/t/nobody-here/token", grant, {"HTTP_AUTHORIZATION": auth}),
        # The body and how it is sent.
        (token_url, grant, {"HTTP_AUTHORIZATION": auth, "HTTP_ORIGIN": "https://a.example"}),
        (token_url, grant, {"HTTP_AUTHORIZATION": auth, "QUERY_STRING": "scope=read"}),
        (token_url, grant, {"HTTP_AUTHORIZATION": auth, "CONTENT_TYPE": "application/json"}),
        (
            token_url,
            b"grant_type=client_credentials&grant_type=client_credentials",
            {"HTTP_AUTHORIZATION": auth},
        ),
        (token_url, b"grant_type=client_credentials&scope=", {"HTTP_AUTHORIZATION": auth}),
        (token_url, b"grant_type=client_credentials&scope=%zz", {"HTTP_AUTHORIZATION": auth}),
        (token_url, b"grant_type=client_credentials&scope=%ff", {"HTTP_AUTHORIZATION": auth}),
        (token_url, grant | {"resource": "https://api.example.com"}, {"HTTP_AUTHORIZATION": auth}),
        # Client authentication.
        (token_url, grant, {"HTTP_AUTHORIZATION": basic(client, "idp_cs_wrong")}),
        (token_url, grant, {"HTTP_AUTHORIZATION": "Basic !!!"}),
        (token_url, grant, {"HTTP_AUTHORIZATION": "Bearer " + issued["access_token"]}),
        (token_url, grant | {"client_id": "someone-else"}, {"HTTP_AUTHORIZATION": auth}),
        (token_url, grant | {"client_secret": secret}, {"HTTP_AUTHORIZATION": auth}),
        (token_url, grant | {"client_id": client, "client_secret": secret}, {}),  # not its method
        (token_url, grant | {"client_id": post.client.client_id}, {}),
        (token_url, grant, {"HTTP_AUTHORIZATION": basic(post.client.client_id, post.secret)}),
        (token_url, grant, {"HTTP_AUTHORIZATION": basic("no-such-client", secret)}),
        # The grant.
        (
            token_url,
            {"grant_type": "refresh_token", "refresh_token": "x"},
            {"HTTP_AUTHORIZATION": auth},
        ),
        (token_url, grant | {"scope": "admin"}, {"HTTP_AUTHORIZATION": auth}),
        (token_url, {}, {"HTTP_AUTHORIZATION": auth}),
        # Introspection of anything but a live token of the caller's own.
        (introspect_url, {"token": "not-a-token"}, {"HTTP_AUTHORIZATION": auth}),
        (introspect_url, {"token": "idp_rt_" + "a" * 40}, {"HTTP_AUTHORIZATION": auth}),
        (introspect_url, {}, {"HTTP_AUTHORIZATION": auth}),
        (
            introspect_url,
            {"token": issued["access_token"]},
            {
                "HTTP_AUTHORIZATION": basic(
                    world.resource_server.client.client_id, world.resource_server.secret
                )
            },
        ),
        (
            introspect_url,
            {"token": resource_servers["access_token"]},
            {"HTTP_AUTHORIZATION": auth},
        ),
        (introspect_url, {"token": revoked["access_token"]}, {"HTTP_AUTHORIZATION": auth}),
    ]
    for path, form, environ in cases:
        lane.reached.clear()
        status, _ = lane.post(path, form, **environ)
        sent = form if isinstance(form, bytes) else urlencode(form).encode()
        assert (status, lane.reached) == ("204 No Content", [sent]), (path, form, environ)


def test_a_body_of_unknown_or_excessive_length_is_left_unread(lane, world, services):
    auth = basic(world.basic.client.client_id, world.basic.secret)
    url = f"/t/{world.slug}/token"
    form = b"grant_type=client_credentials"
    for length in ("", "abc", "0", str(services.settings.server.max_body_bytes + 1)):
        lane.reached.clear()
        status, _ = lane.post(url, form, HTTP_AUTHORIZATION=auth, CONTENT_LENGTH=length)
        assert (status, lane.reached) == ("204 No Content", [form]), length


def test_an_address_blocked_for_failures_goes_to_flask_even_with_the_right_secret(lane, world):
    auth = basic(world.basic.client.client_id, world.basic.secret)
    url = f"/t/{world.slug}/token"
    form = {"grant_type": "client_credentials"}
    source = f"{world.basic.client.tenant_id}:127.0.0.1"
    lane.failures.record_failure(source)
    assert lane.failures.record_failure(source)  # over the limit of one: blocked
    status, _ = lane.post(url, form, HTTP_AUTHORIZATION=auth)
    assert status == "204 No Content"
    status, _ = lane.post(url, form, HTTP_AUTHORIZATION=auth, REMOTE_ADDR="127.0.0.2")
    assert status == "200 OK"
