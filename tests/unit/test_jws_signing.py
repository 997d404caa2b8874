"""Our compact JWS signer against joserfc, an independent implementation of RFC 7515/7518."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jws
from joserfc.jwk import import_key

from idp.crypto.jwt import sign, verify
from idp.crypto.keys import KeyRing, RingKey, generate_private_jwk, public_part
from idp.settings import SIGNING_ALGS

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def ring_key(alg: str, key_alg: str | None = None) -> RingKey:
    private = generate_private_jwk(key_alg or alg, f"kid-{alg}")
    return RingKey(
        kid=private["kid"],
        alg=alg,
        open_private=lambda: private,
        public_jwk=public_part(private),
        activates_at=NOW - timedelta(days=1),
        retires_at=None,
    )


def segment(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.mark.parametrize("alg", SIGNING_ALGS)
def test_a_token_we_sign_verifies_with_the_public_key_alone(alg: str) -> None:
    key = ring_key(alg)
    claims = {"iss": "https://idp.example/t/a", "sub": "ü", "aud": ["x", "y"], "exp": 2}

    token = sign(claims, key, "at+jwt")

    public = import_key(key.public_jwk)
    checked = jws.deserialize_compact(token, public, algorithms=[alg])
    assert json.loads(checked.payload) == claims
    assert checked.protected == {"alg": alg, "kid": key.kid, "typ": "at+jwt"}
    assert verify(token, KeyRing((key,)), NOW)[1] == claims


@pytest.mark.parametrize("alg", SIGNING_ALGS)
def test_a_changed_payload_no_longer_verifies(alg: str) -> None:
    key = ring_key(alg)
    header, _, signature = sign({"sub": "a"}, key, "JWT").split(".")
    forged_payload = base64.urlsafe_b64encode(b'{"sub":"b"}').rstrip(b"=").decode()

    with pytest.raises(Exception, match="signature"):
        jws.deserialize_compact(
            f"{header}.{forged_payload}.{signature}",
            import_key(key.public_jwk),
            algorithms=[alg],
        )


def test_es256_signatures_are_the_raw_64_bytes_rfc_7518_asks_for() -> None:
    token = sign({"sub": "a"}, ring_key("ES256"), "JWT")

    assert len(segment(token.split(".")[2])) == 64


def test_each_token_type_has_its_own_header() -> None:
    key = ring_key("RS256")

    first, second = sign({}, key, "JWT"), sign({}, key, "logout+jwt")

    assert json.loads(segment(first.split(".")[0]))["typ"] == "JWT"
    assert json.loads(segment(second.split(".")[0]))["typ"] == "logout+jwt"


@pytest.mark.parametrize(
    ("alg", "key_alg"), [("ES256", "RS256"), ("RS256", "ES256"), ("EdDSA", "ES256")]
)
def test_a_key_never_signs_for_another_family(alg: str, key_alg: str) -> None:
    with pytest.raises(ValueError, match="cannot sign"):
        sign({"sub": "a"}, ring_key(alg, key_alg), "JWT")
