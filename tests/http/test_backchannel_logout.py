"""OIDC Back-Channel Logout 1.0: when a session ends, each client it gave a code to and that has a
`backchannel_logout_uri` gets a logout token, POSTed to a real receiver on 127.0.0.1 and verified
with joserfc against our JWKS; in the background, retried, and never at the person's expense."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from idp.services.management.api_keys import OPERATOR, create_api_key
from tests.support.browser import REDIRECT, Browser
from tests.support.logout import SIGNED_OUT, sign_in
from tests.support.logout_receiver import LogoutReceiver

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receiver() -> Iterator[LogoutReceiver]:
    running = LogoutReceiver()
    yield running
    running.stop()


@pytest.fixture
def backchannel_client(make, module_tenant):
    """A client of the module's tenant listening for logout tokens at `uri`."""

    def create(uri: str | None, **columns: Any) -> Any:
        return make.client(
            module_tenant,
            grant_types=("authorization_code",),
            redirect_uris=(REDIRECT,),
            post_logout_redirect_uris=(SIGNED_OUT,),
            scopes=("openid", "profile", "email", "roles"),
            backchannel_logout_uri=uri,
            **columns,
        )

    return create


def verified_logout_token(http: requests.Session, issuer: str, token: str, alg: str) -> dict:
    header = jws.extract_compact(token.encode()).headers()
    assert header["typ"] == "logout+jwt"  # §2.4: explicitly typed
    assert header["alg"] == alg
    keys = KeySet.import_key_set(http.get(f"{issuer}/jwks.json").json())
    return jwt.decode(token, keys, algorithms=[alg]).claims


def logout(browser: Browser, id_token: str) -> requests.Response:
    return browser.get(f"{browser.issuer}/logout", id_token_hint=id_token)


def test_logout_token_reaches_the_clients_of_the_session_only(
    browser, person, backchannel_client, receiver, http, make, module_tenant
):
    rp = backchannel_client(f"{receiver.url}/rp", backchannel_logout_session_required=True)
    backchannel_client(f"{receiver.url}/bystander")  # listening, but no code from this session
    signed_in = sign_in(browser, rp, person.email)
    sign_in(browser, rp, person.email)  # a second code from the same session: still one token

    assert logout(browser, signed_in.id_token).status_code == 200
    (delivery,) = receiver.wait_for("/rp")
    assert delivery.content_type == "application/x-www-form-urlencoded"

    issuer = make.issuer(module_tenant)
    claims = verified_logout_token(http, issuer, delivery.logout_token, "RS256")
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": rp.client.client_id},
        sub={"essential": True, "value": person.subject},
        sid={"essential": True, "value": signed_in.sid},
        jti={"essential": True},
        iat={"essential": True},
        exp={"essential": True},
    ).validate(claims)
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims  # §2.4: a logout token never carries one
    assert abs(claims["iat"] - time.time()) < 60
    assert 0 < claims["exp"] - claims["iat"] <= 120

    time.sleep(1)  # anything else would have been sent together with the first token
    assert len(receiver.at("/rp")) == 1
    assert receiver.at("/bystander") == []


def test_the_token_is_signed_as_the_clients_id_tokens(
    browser, person, backchannel_client, receiver, http, make, module_tenant
):
    rp = backchannel_client(f"{receiver.url}/es", id_token_signed_response_alg="ES256")
    signed_in = sign_in(browser, rp, person.email)
    logout(browser, signed_in.id_token)
    (delivery,) = receiver.wait_for("/es")
    claims = verified_logout_token(http, make.issuer(module_tenant), delivery.logout_token, "ES256")
    assert claims["sid"] == signed_in.sid


def test_a_failing_receiver_gets_the_token_on_a_retry(
    browser, person, backchannel_client, receiver
):
    receiver.failures["/flaky"] = 2
    rp = backchannel_client(f"{receiver.url}/flaky")
    signed_in = sign_in(browser, rp, person.email)
    logout(browser, signed_in.id_token)
    attempts = receiver.wait_for("/flaky", count=3)
    assert len({attempt.logout_token for attempt in attempts}) == 1  # the same token, resent
    time.sleep(1)
    assert len(receiver.at("/flaky")) == 3  # answered 200 the third time: no fourth


@pytest.fixture
def dead_receiver() -> Iterator[str]:
    """A port that accepts connections and never answers: each attempt waits for its timeout."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield f"http://127.0.0.1:{silent.getsockname()[1]}/logout"


def test_a_dead_receiver_does_not_slow_logout(
    browser, person, backchannel_client, receiver, dead_receiver
):
    dead = backchannel_client(dead_receiver)
    alive = backchannel_client(f"{receiver.url}/alive")
    signed_in = sign_in(browser, dead, person.email)
    sign_in(browser, alive, person.email)  # the same session, second client

    started = time.monotonic()
    response = logout(browser, signed_in.id_token)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    # The retry budget towards the dead client is 3 attempts of 5 s each plus backoff.
    assert elapsed < 1.0, elapsed
    # And the other client is told before the dead one has even timed out once.
    receiver.wait_for("/alive", timeout=4)


def test_sign_out_everywhere_tells_the_clients_too(
    browser, person, backchannel_client, receiver, services, server, module_tenant
):
    rp = backchannel_client(f"{receiver.url}/everywhere")
    signed_in = sign_in(browser, rp, person.email)
    key = create_api_key(services.uow(), OPERATOR, module_tenant, "logout test", None).secret
    response = requests.delete(
        f"{server.url}/api/v1/tenants/{module_tenant.slug}/users/{person.subject}/sessions",
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 204, response.text
    (delivery,) = receiver.wait_for("/everywhere")
    compact = jws.extract_compact(delivery.logout_token.encode())
    assert compact.headers()["typ"] == "logout+jwt"
    assert json.loads(compact.payload)["sid"] == signed_in.sid


@pytest.mark.in_process
def test_a_self_registered_client_is_not_called_at_a_private_address(
    browser, person, backchannel_client, receiver, caplog
):
    """RFC 7591 clients are strangers: their URLs may lead only to public addresses, or the
    logout token would let anyone make us POST into our own network (services/outbound.py)."""
    stranger = backchannel_client(f"{receiver.url}/stranger", registration_token_digest="0" * 64)
    witness = backchannel_client(f"{receiver.url}/witness")
    signed_in = sign_in(browser, stranger, person.email)
    sign_in(browser, witness, person.email)
    logout(browser, signed_in.id_token)
    receiver.wait_for("/witness")
    time.sleep(1)
    assert receiver.at("/stranger") == []
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("idp.")]
    assert any(f"client {stranger.client.client_id} refused" in line for line in ours)
    assert not any("eyJ" in line for line in ours)  # no token of any kind in our logs
