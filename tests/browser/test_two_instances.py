"""Two instances behind a per-request round-robin proxy (issue 8, DESIGN §9): two gunicorn
instances on their own ports share the PostgreSQL schema, Redis (under the backend's key prefix)
and IDP_KEK, and nothing else. Every request through the proxy goes to the other instance than
the one before, so each step of a flow lands on either. The instances' access logs show that
both served; some checks also call each instance directly to be sure both were asked.

Chromium signs in through the hosted pages, a client library exchanges the code and verifies the
ID token; then refresh, revocation, a client secret rotation, a signing key rotation and logout
with back-channel delivery, each seen by both instances at once; and the login throttle and the
API rate limit count what was done on either instance.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import escape
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from tests.support.backends import Backend, postgres_backend
from tests.support.browser import PASSWORD, REDIRECT, Browser
from tests.support.chromium import sign_in
from tests.support.cli import Installation
from tests.support.gunicorn import Gunicorn, start
from tests.support.logout import SIGNED_OUT
from tests.support.logout_receiver import LogoutReceiver
from tests.support.ports import free_port
from tests.support.round_robin_proxy import RoundRobinProxy

TENANT = "duo"
EMAIL = "grace@example.com"
CLIENT_HOME = "https://rp.example.com/home"
SCOPES = "openid profile email offline_access"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
# Management API calls per key and minute: low, so the test of the shared limit stays short.
API_PER_MINUTE_PER_KEY = 40
# Short key timings so a rotation is published, then signing, within seconds. Settings require
# publish_delay_seconds >= cache_seconds + jwks_max_age_seconds (config.toml).
KEY_CACHE_SECONDS = 1
PUBLISH_DELAY_SECONDS = 3


@dataclass
class Cluster:
    proxy: RoundRobinProxy
    instances: list[Gunicorn]
    install: Installation
    web_client: dict[str, Any]  # the browser app's registration, with its secret
    service_client: dict[str, Any]  # a client_credentials client, for the secret rotation
    api_key: str
    receiver: LogoutReceiver

    @property
    def issuer(self) -> str:
        return f"{self.proxy.url}/t/{TENANT}"

    def direct(self, instance: Gunicorn) -> str:
        """The tenant's endpoints on one instance, bypassing the proxy."""
        return f"{instance.url}/t/{TENANT}"


@pytest.fixture(scope="module")
def backend() -> Iterator[Backend]:
    yield from postgres_backend()


@pytest.fixture(scope="module")
def cluster(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    proxy_port, ports = free_port(), [free_port(), free_port()]
    receiver = LogoutReceiver()
    install = Installation.create(
        tmp_path_factory.mktemp("two-instances"),
        backend.database_url,
        IDP_KEK=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        IDP_SERVER__PUBLIC_URL=f"http://127.0.0.1:{proxy_port}",
        IDP_REDIS__URL=backend.redis_url,
        IDP_REDIS__KEY_PREFIX=backend.redis_prefix,
        IDP_KEYS__CACHE_SECONDS=str(KEY_CACHE_SECONDS),
        IDP_KEYS__JWKS_MAX_AGE_SECONDS="1",
        IDP_KEYS__PUBLISH_DELAY_SECONDS=str(PUBLISH_DELAY_SECONDS),
        IDP_RATE_LIMITS__API_PER_MINUTE_PER_KEY=str(API_PER_MINUTE_PER_KEY),
    )
    install.environ.pop("IDP_KEYS__KEK_FILE")  # the KEK is IDP_KEK, identical on both
    assert install.run("migrate").code == 0
    install.json("tenants", "create", "--slug", TENANT, "--name", "Duo")
    install.json(
        "users", "create", "--tenant", TENANT, "--email", EMAIL, "--name", "Grace Hopper",
        "--password", PASSWORD,
    )  # fmt: skip
    web_client = install.json(
        "clients", "create", "--tenant", TENANT, "--name", "Shop",
        "--grant-types", "authorization_code,refresh_token",
        "--redirect-uri", REDIRECT, "--post-logout-redirect-uri", SIGNED_OUT,
        "--scopes", SCOPES, "--backchannel-logout-uri", f"{receiver.url}/backchannel-logout",
    )  # fmt: skip
    service_client = install.json(
        "clients", "create", "--tenant", TENANT, "--name", "Batch",
        "--grant-types", "client_credentials", "--scopes", "batch:run",
    )  # fmt: skip
    api_key = install.json(
        "api-keys", "create", "--tenant", TENANT, "--name", "ops",
        "--scopes", "clients:read clients:write",
    )["key"]  # fmt: skip
    instances: list[Gunicorn] = []
    proxy: RoundRobinProxy | None = None
    try:
        for port in ports:
            instances.append(start(install, port, workers=2))
        proxy = RoundRobinProxy([instance.url for instance in instances], port=proxy_port)
        yield Cluster(proxy, instances, install, web_client, service_client, api_key, receiver)
    finally:
        if proxy is not None:
            proxy.stop()
        for instance in instances:
            instance.stop()
        receiver.stop()
    for instance in instances:
        assert "Traceback" not in instance.log_text(), instance.log_tail()


def verified(token: str, jwks_url: str, **expected: str) -> dict[str, Any]:
    """The claims of a JWT whose signature joserfc verified against the JWKS at `jwks_url`."""
    keys = KeySet.import_key_set(requests.get(jwks_url, timeout=10).json())
    claims = dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)
    registry = {name: {"essential": True, "value": value} for name, value in expected.items()}
    jwt.JWTClaimsRegistry(**registry).validate(claims)
    return claims


def served(instance: Gunicorn, *paths: str) -> int:
    """Requests for any of `paths` in this instance's access log (methods GET and POST)."""
    return sum(
        instance.requests_logged(method, path) for path in paths for method in ("GET", "POST")
    )


def wait_for_log(instance: Gunicorn, method: str, path: str, count: int) -> None:
    """A worker logs a request just after answering it: give the log a moment to catch up."""
    deadline = time.monotonic() + 5
    while instance.requests_logged(method, path) < count:
        assert time.monotonic() < deadline, f"{instance.url} logged under {count} {method} {path}"
        time.sleep(0.1)


@dataclass
class Session:
    """The person's browser and the client library, after the sign-in."""

    page: Any
    client: OAuth2Session
    token: dict[str, Any]
    claims: dict[str, Any]
    metadata: dict[str, Any]


@pytest.fixture(scope="module")
def session(cluster: Cluster, chromium: Any) -> Iterator[Session]:
    """Authorize → login → consent → code → token exchange, all through the proxy."""
    metadata = requests.get(f"{cluster.issuer}/.well-known/openid-configuration", timeout=10)
    metadata_json = metadata.json()
    client = OAuth2Session(
        cluster.web_client["client_id"],
        cluster.web_client["client_secret"],
        scope=SCOPES,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier = generate_token(48)
    url, state = client.create_authorization_url(
        metadata_json["authorization_endpoint"], code_verifier=verifier, nonce="nonce-2"
    )
    context = chromium.new_context()
    page = context.new_page()
    arrived = sign_in(page, url, cluster.issuer, EMAIL, PASSWORD)
    token = client.fetch_token(
        metadata_json["token_endpoint"],
        authorization_response=arrived[-1],
        state=state,
        code_verifier=verifier,
    )
    claims = verified(
        token["id_token"],
        metadata_json["jwks_uri"],
        iss=cluster.issuer,
        aud=cluster.web_client["client_id"],
        nonce="nonce-2",
    )
    yield Session(page, client, token, claims, metadata_json)
    context.close()


def test_browser_sign_in_runs_across_both_instances(cluster: Cluster, session: Session) -> None:
    assert session.claims["name"] == "Grace Hopper"
    userinfo = session.client.get(session.metadata["userinfo_endpoint"]).json()
    assert userinfo["email"] == EMAIL
    flow = [f"/t/{TENANT}/{step}" for step in ("authorize", "login", "consent", "token")]
    for instance in cluster.instances:
        assert served(instance, *flow) > 0, f"{instance.url} served no step of the sign-in"
    assert sum(served(instance, *flow) for instance in cluster.instances) >= len(flow)


def test_refresh_alternates_instances_and_keeps_the_person(
    cluster: Cluster, session: Session
) -> None:
    before = [
        instance.requests_logged("POST", f"/t/{TENANT}/token") for instance in cluster.instances
    ]
    for _ in range(2):  # two refreshes: one on each instance, whichever comes first
        previous = session.client.token["refresh_token"]
        refreshed = session.client.refresh_token(session.metadata["token_endpoint"])
        assert refreshed["refresh_token"] != previous
        again = verified(refreshed["id_token"], session.metadata["jwks_uri"], iss=cluster.issuer)
        assert (again["sub"], again["auth_time"]) == (
            session.claims["sub"],
            session.claims["auth_time"],
        )
        assert session.client.get(session.metadata["userinfo_endpoint"]).status_code == 200
    for instance, count in zip(cluster.instances, before, strict=True):
        wait_for_log(instance, "POST", f"/t/{TENANT}/token", count + 1)


def introspect(url: str, client: dict[str, Any], token: str) -> bool:
    answer = requests.post(
        f"{url}/introspect",
        data={"token": token},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["active"])


def test_a_revocation_on_one_instance_is_seen_by_the_other(
    cluster: Cluster, session: Session
) -> None:
    access_token = session.client.refresh_token(session.metadata["token_endpoint"])["access_token"]
    first, second = (cluster.direct(instance) for instance in cluster.instances)
    assert introspect(first, cluster.web_client, access_token)
    assert introspect(second, cluster.web_client, access_token)

    revoked = requests.post(
        f"{first}/revoke",
        data={"token": access_token, "token_type_hint": "access_token"},
        auth=(cluster.web_client["client_id"], cluster.web_client["client_secret"]),
        timeout=10,
    )
    assert revoked.status_code == 200
    assert not introspect(second, cluster.web_client, access_token)
    assert not any(introspect(cluster.issuer, cluster.web_client, access_token) for _ in range(4))
    userinfo = requests.get(
        f"{second}/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=10
    )
    assert userinfo.status_code == 401


def client_credentials(url: str, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        f"{url}/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
        timeout=10,
    )


def test_a_secret_rotation_through_the_api_is_seen_by_both_at_once(cluster: Cluster) -> None:
    client_id = cluster.service_client["client_id"]
    old = cluster.service_client["client_secret"]
    directs = [cluster.direct(instance) for instance in cluster.instances]
    # Both instances have the client cached before the change.
    assert [client_credentials(url, client_id, old).status_code for url in directs] == [200, 200]

    rotated = requests.post(
        f"{cluster.proxy.url}/api/v1/tenants/{TENANT}/clients/{client_id}/secret",
        headers={"Authorization": f"Bearer {cluster.api_key}"},
        timeout=10,
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["client_secret"]
    assert [client_credentials(url, client_id, old).status_code for url in directs] == [401, 401]
    assert [client_credentials(url, client_id, new).status_code for url in directs] == [200, 200]
    cluster.service_client["client_secret"] = new


def kids(jwks_url: str) -> set[str]:
    return {key["kid"] for key in requests.get(jwks_url, timeout=10).json()["keys"]}


def test_a_key_rotation_is_published_and_then_used_by_both(cluster: Cluster) -> None:
    rotated = cluster.install.json("keys", "rotate", "--tenant", TENANT, "--alg", "RS256")
    (new_kid,) = [key["kid"] for key in rotated if key["alg"] == "RS256"]
    directs = [cluster.direct(instance) for instance in cluster.instances]
    deadline = time.monotonic() + PUBLISH_DELAY_SECONDS
    # Published on both before it signs anything (DESIGN §4).
    while not all(new_kid in kids(f"{url}/jwks.json") for url in directs):
        assert time.monotonic() < deadline, "the new key is not in both JWKS in time"
        time.sleep(0.2)

    time.sleep(PUBLISH_DELAY_SECONDS + KEY_CACHE_SECONDS)
    client = cluster.service_client
    for url, other in zip(directs, reversed(directs), strict=True):
        issued = client_credentials(url, client["client_id"], client["client_secret"])
        assert issued.status_code == 200, issued.text
        token = issued.json()["access_token"]
        assert jws.extract_compact(token.encode()).headers()["kid"] == new_kid
        verified(token, f"{other}/jwks.json", iss=cluster.issuer, client_id=client["client_id"])


def test_logout_ends_the_session_and_the_client_gets_a_logout_token(
    cluster: Cluster, session: Session
) -> None:
    page = session.page
    form: list[str] = []
    page.route(
        CLIENT_HOME,
        lambda route: route.fulfill(status=200, body=form[-1], content_type="text/html"),
    )
    page.route(
        f"{SIGNED_OUT}**",
        lambda route: route.fulfill(status=200, body="signed out", content_type="text/plain"),
    )
    # The client's Sign out button POSTs the ID token as hint (RP-Initiated Logout §2).
    fields = {"id_token_hint": session.token["id_token"], "post_logout_redirect_uri": SIGNED_OUT}
    inputs = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    action = escape(session.metadata["end_session_endpoint"])
    form.append(f'<form method="post" action="{action}">{inputs}<button>Go</button></form>')
    page.goto(CLIENT_HOME)
    page.get_by_role("button", name="Go").click()
    page.wait_for_url(f"{SIGNED_OUT}**")

    logout_token = cluster.receiver.wait_for("/backchannel-logout", timeout=30)[0].logout_token
    assert jws.extract_compact(logout_token.encode()).headers()["typ"] == "logout+jwt"
    claims = verified(
        logout_token,
        session.metadata["jwks_uri"],
        iss=cluster.issuer,
        aud=cluster.web_client["client_id"],
        sid=session.claims["sid"],
    )
    assert LOGOUT_EVENT in claims["events"]


def test_the_login_throttle_counts_failures_made_on_either_instance(cluster: Cluster) -> None:
    """Five wrong passwords for one account, spread over both instances, lock it on both: the
    counters live in the shared store, so guessing cannot be spread over instances."""
    email = "ada@example.com"
    cluster.install.json(
        "users", "create", "--tenant", TENANT, "--email", email, "--password", PASSWORD
    )  # fmt: skip
    browsers = [
        Browser(requests.Session(), cluster.direct(instance)) for instance in cluster.instances
    ]
    limit = 5  # rate_limits.login_failures_per_account (config.toml)
    for attempt in range(limit):
        browser = browsers[attempt % 2]
        wrong = browser.sign_in(f"{browser.issuer}/login", email, "not the password")
        assert wrong.status_code == 401, wrong.text
    for browser in browsers:
        blocked = browser.sign_in(f"{browser.issuer}/login", email, PASSWORD)
        assert blocked.status_code == 429, blocked.text


def test_the_api_rate_limit_of_a_key_is_shared_by_both_instances(cluster: Cluster) -> None:
    key = cluster.install.json(
        "api-keys", "create", "--tenant", TENANT, "--name", "busy", "--scopes", "clients:read"
    )["key"]  # fmt: skip
    headers = {"Authorization": f"Bearer {key}"}
    answers = []
    for call in range(API_PER_MINUTE_PER_KEY):
        instance = cluster.instances[call % 2]
        answer = requests.get(f"{instance.url}/api/v1/tenants/{TENANT}/clients", headers=headers)
        answers.append(answer.status_code)
    assert answers == [200] * API_PER_MINUTE_PER_KEY
    for instance in cluster.instances:
        over = requests.get(f"{instance.url}/api/v1/tenants/{TENANT}/clients", headers=headers)
        assert over.status_code == 429, over.text
        assert over.headers["Retry-After"]
