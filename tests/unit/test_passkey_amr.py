"""The `amr` a passkey leaves (RFC 8176 §2, issue 10 §2) and the acr it meets: `swk` for a
credential that may be synced (backup eligible), `hwk` for one bound to its authenticator,
`user` when the person was verified; with `user` the passkey alone is multi-factor."""

from __future__ import annotations

from functools import reduce

import pytest

from idp.services.factors.passkeys import RelyingParty, passkey_amr
from idp.services.factors.policy import amr_with
from idp.services.tokens.claims import acr_for


@pytest.mark.parametrize(
    ("backup_eligible", "user_verified", "amr", "acr"),
    [
        (False, True, ("hwk", "user", "mfa"), "3"),  # phishing-resistant multi-factor
        (True, True, ("swk", "user", "mfa"), "3"),
        (False, False, ("hwk",), "1"),
        (True, False, ("swk",), "1"),
    ],
)
def test_a_passkey_alone(backup_eligible, user_verified, amr, acr):
    methods = reduce(amr_with, passkey_amr(backup_eligible, user_verified), ())
    assert (methods, acr_for(methods)) == (amr, acr)


def test_a_passkey_after_a_password_is_mfa_even_without_user_verification():
    methods = reduce(amr_with, passkey_amr(False, False), ("pwd",))
    assert (methods, acr_for(methods)) == (("pwd", "hwk", "mfa"), "2")


@pytest.mark.parametrize(
    ("public_url", "setting", "rp_id", "origin"),
    [
        ("https://id.example.com", None, "id.example.com", "https://id.example.com"),
        ("https://id.example.com", "example.com", "example.com", "https://id.example.com"),
        ("http://localhost:5000", None, "localhost", "http://localhost:5000"),
    ],
)
def test_the_relying_party_is_the_public_url_or_the_setting(public_url, setting, rp_id, origin):
    rp = RelyingParty.of(public_url, setting, "Acme")
    assert (rp.id, rp.origin) == (rp_id, origin)
