"""Redis unreachable, then back (issue 8, DESIGN §3): answered 503, then survived.

Real gunicorn gthread workers (tests/support/faults.py), the PostgreSQL test backend
and a Redis of the test's own (tests/support/redis_server.py), which it stops, restarts empty
and, through a TCP relay, makes hang. While Redis is away, everything that needs it answers
503 with Retry-After in its surface's format, never 500 and never a token; JWKS and discovery
still answer. Once it is back, every request succeeds at once, including the first on each
worker thread, whose per-thread connection died with the old Redis.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support.backends import Backend, postgres_backend
from tests.support.browser import PASSWORD, Browser, code_request, hidden_fields, pkce_pair
from tests.support.faults import (
    PARALLEL,
    SCOPE,
    Deployment,
    assert_no_errors,
    deployed,
    fault_settings,
    in_parallel,
)
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer
from tests.support.tcp_proxy import TcpProxy

ROUNDS = 4


@dataclass(kw_only=True)
class RedisDeployment(Deployment):
    """The server's Redis is the test's own, reached through a relay that can make it hang."""

    redis: RedisServer
    relay: TcpProxy


@pytest.fixture(scope="module")
def postgres() -> Iterator[Backend]:
    yield from postgres_backend()


@pytest.fixture(scope="module")
def deployment(
    postgres: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisDeployment]:
    directory = tmp_path_factory.mktemp("faults-redis")
    redis = RedisServer(directory)
    redis.start()
    relay = TcpProxy("127.0.0.1", redis.port)
    port = free_port()
    settings = fault_settings(
        directory,
        f"http://127.0.0.1:{port}",
        postgres.database_url,
        f"redis://127.0.0.1:{relay.port}/0",
    )
    try:
        with deployed(RedisDeployment, directory, settings, port, redis=redis, relay=relay) as up:
            yield up
            log = up.served.log_text()
    finally:
        relay.cut()
        redis.stop()
    assert_no_errors(log)


def assert_protocol_503(response: requests.Response) -> None:
    """RFC 6749 JSON, 503, Retry-After, no-store; and of course no token."""
    assert response.status_code == 503, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.json()["error_description"]
    assert int(response.headers["Retry-After"]) > 0
    assert response.headers["Cache-Control"] == "no-store"
    assert "access_token" not in response.text and "refresh_token" not in response.text


def test_redis_stopped_every_endpoint_that_needs_it_answers_503(
    deployment: RedisDeployment,
) -> None:
    # Everything prepared while Redis is up: a signed-in browser with its tokens, a fresh code,
    # and a login page another browser is about to submit.
    browser, query, verifier = deployment.sign_in()
    tokens = deployment.redeem(query["code"], verifier).json()
    _, query, verifier = deployment.sign_in()
    code = query["code"]
    stranger = Browser(requests.Session(), deployment.issuer)
    started = stranger.authorize(**code_request(deployment.client_id, pkce_pair()[1], scope=SCOPE))
    assert started.headers["Location"].startswith(f"{deployment.issuer}/login")
    login_page = stranger.get(started.headers["Location"])
    assert login_page.status_code == 200
    assert deployment.api_read().status_code == 200

    deployment.redis.stop()
    try:
        assert_protocol_503(deployment.client_credentials())
        assert_protocol_503(deployment.redeem(code, verifier))
        refresh = deployment.post(
            "token", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert_protocol_503(refresh)
        assert_protocol_503(deployment.post("introspect", token=tokens["access_token"]))
        assert_protocol_503(deployment.post("revoke", token=tokens["access_token"]))
        userinfo = requests.get(
            f"{deployment.issuer}/userinfo",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=15,
        )
        assert_protocol_503(userinfo)

        api = deployment.api_read()
        assert api.status_code == 503
        assert api.headers["Content-Type"] == "application/problem+json"
        assert api.json()["status"] == 503 and api.json()["title"]
        assert int(api.headers["Retry-After"]) > 0

        form = hidden_fields(login_page.text) | {"email": deployment.email, "password": PASSWORD}
        login = stranger.http.post(
            f"{deployment.issuer}/login", data=form, allow_redirects=False, timeout=15
        )
        assert login.status_code == 503
        assert login.headers["Content-Type"].startswith("text/html")
        assert int(login.headers["Retry-After"]) > 0
        assert login.headers["X-Request-Id"] in login.text
        assert "Traceback" not in login.text

        # What needs only the database and memory still answers.
        assert requests.get(f"{deployment.issuer}/jwks.json", timeout=5).status_code == 200
        discovery = f"{deployment.issuer}/.well-known/openid-configuration"
        assert requests.get(discovery, timeout=5).json()["issuer"] == deployment.issuer
        ready = requests.get(f"{deployment.served.url}/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": "ok", "store": "unavailable"}
    finally:
        deployment.redis.start()

    # Nothing was half done while Redis was away: the refresh token still works now.
    refreshed = deployment.post(
        "token", grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    assert browser.http.cookies  # the signed-in browser kept its session cookie


def test_after_a_restart_every_first_request_on_every_thread_succeeds(
    deployment: RedisDeployment,
) -> None:
    """Every worker thread holds a Redis connection; a restart kills them all at once."""
    token = deployment.client_credentials().json()["access_token"]
    warm = [deployment.client_credentials] * (PARALLEL * ROUNDS)
    assert {response.status_code for response in in_parallel(warm)} == {200}

    deployment.redis.restart()  # comes back empty, as Redis without persistence does

    mixed: list[Callable[[], requests.Response]] = [
        deployment.client_credentials,
        lambda: deployment.post("introspect", token=token),
        deployment.api_read,
        lambda: deployment.post("token", grant_type="client_credentials", scope="read"),
    ]
    answers = in_parallel(mixed * (PARALLEL * ROUNDS // len(mixed)))
    assert [(a.status_code, a.request.url) for a in answers if a.status_code != 200] == []
    revoked = deployment.post("revoke", token=token)
    assert revoked.status_code == 200


def test_a_hanging_redis_answers_503_within_the_timeouts(deployment: RedisDeployment) -> None:
    """Redis accepts connections but answers nothing: the command timeout (1 s as shipped)
    bounds each wait, so the client gets its 503 in seconds and /readyz says so in time."""
    assert deployment.client_credentials().status_code == 200
    deployment.relay.hold()
    try:
        # Past the few milliseconds a worker trusts the client cache's generation without asking
        # Redis (idp/services/oauth_clients/client_cache.py): from now on a token needs Redis.
        time.sleep(0.1)
        started = time.monotonic()
        assert_protocol_503(deployment.client_credentials())
        ready = requests.get(f"{deployment.served.url}/readyz", timeout=10)
        elapsed = time.monotonic() - started
        assert ready.status_code == 503
        assert ready.json()["checks"]["store"] == "unavailable"
        assert elapsed < 8, elapsed
    finally:
        deployment.relay.restore()
    answers = in_parallel([deployment.client_credentials] * (PARALLEL * ROUNDS))
    assert [a.status_code for a in answers if a.status_code != 200] == []
