"""Key rotation without downtime (DESIGN §4): publish before use, retire after the last token."""

from __future__ import annotations

import time
from datetime import timedelta

from joserfc import jws, jwt
from joserfc.jwk import KeySet

from idp.services.tokens.signing_keys import list_keys, rotate_keys


def _token(http, issuer, issued):
    response = http.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials"},
        auth=(issued.client.client_id, issued.secret),
    )
    assert response.status_code == 200
    return response.json()["access_token"]


def _published_kids(http, issuer) -> set[str]:
    return {key["kid"] for key in http.get(f"{issuer}/jwks.json").json()["keys"]}


def _verify(http, issuer, token) -> dict:
    key_set = KeySet.import_key_set(http.get(f"{issuer}/jwks.json").json())
    return jwt.decode(token, key_set, algorithms=["RS256"]).claims


def test_rotation_publishes_first_signs_later_and_keeps_old_tokens_valid(services, make, http):
    tenant = make.tenant()
    issued = make.client(tenant)
    issuer = make.issuer(tenant)
    before = _token(http, issuer, issued)
    old_kid = jws.extract_compact(before.encode()).headers()["kid"]

    publish_delay = services.settings.keys.publish_delay_seconds
    new_rs256 = next(
        info
        for info in rotate_keys(
            services.uow(),
            services.kek,
            tenant.id,
            ["RS256"],
            publish_delay=timedelta(seconds=publish_delay),
            longest_token_lifetime=timedelta(hours=1),
        )
    )

    # Published within one key-cache period, while tokens are still signed by the old key.
    deadline = time.monotonic() + services.settings.keys.cache_seconds + 1
    while new_rs256.kid not in _published_kids(http, issuer):
        assert time.monotonic() < deadline, "the new key was not published"
        time.sleep(0.1)
    published_at = time.time()
    while time.time() < new_rs256.activates_at.timestamp():
        token = _token(http, issuer, issued)
        # Signed before the answer came back: only an answer that arrived before the activation
        # time proves which key signed before it.
        if time.time() < new_rs256.activates_at.timestamp():
            assert jws.extract_compact(token.encode()).headers()["kid"] == old_kid
        time.sleep(0.2)

    # After the publish delay, the new key signs; it had been in the JWKS for the whole delay.
    deadline = time.monotonic() + services.settings.keys.cache_seconds + 2
    while True:
        after = _token(http, issuer, issued)
        if jws.extract_compact(after.encode()).headers()["kid"] == new_rs256.kid:
            break
        assert time.monotonic() < deadline, "the new key never started signing"
        time.sleep(0.1)
    assert published_at < new_rs256.activates_at.timestamp() <= time.time()

    # Both the old token and the new one verify with an independent library against the JWKS.
    assert _verify(http, issuer, before)["jti"]
    assert _verify(http, issuer, after)["jti"]
    assert {old_kid, new_rs256.kid} <= _published_kids(http, issuer)

    old = next(info for info in list_keys(services.uow(), tenant.id) if info.kid == old_kid)
    assert old.retires_at == new_rs256.activates_at + timedelta(hours=1)


def test_jwks_holds_public_parts_only_and_is_cacheable(make, http):
    tenant = make.tenant()
    response = http.get(f"{make.issuer(tenant)}/jwks.json")
    assert response.status_code == 200
    assert "max-age=" in response.headers["Cache-Control"]
    keys = response.json()["keys"]
    assert {key["alg"] for key in keys} == {"RS256", "PS256", "ES256", "EdDSA"}
    for key in keys:
        assert key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & key.keys(), "private material published"
