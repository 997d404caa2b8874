"""When a second factor is due and what `amr`/`acr` then say (services/factors/policy.py,
issue 10 §4), and where the second step sits among the steps of an authorization request."""

from __future__ import annotations

import pytest

from idp.services.factors.policy import (
    amr_with,
    demanded_acr,
    demands_mfa,
    demands_passkey,
    second_factor_due,
)
from idp.services.signin import authorization
from idp.services.signin.authorization import AuthorizationRequest
from idp.services.tokens.claims import ClaimsRequest, acr_for, acr_level


@pytest.mark.parametrize(
    ("acr_values", "essential", "demanded"),
    [
        ((), (), False),
        (("2",), (), True),
        (("2", "1"), (), True),
        (("1", "2"), (), False),  # voluntary, in order of preference: "1" is met first
        (("urn:example:unknown", "2"), (), True),  # values we do not know are skipped
        ((), ("2",), True),
        ((), ("1", "2"), False),  # either satisfies the essential claim
        ((), ("urn:example:unknown", "2"), True),
    ],
)
def test_which_requests_demand_mfa(acr_values, essential, demanded):
    assert demands_mfa(acr_values, essential) is demanded


@pytest.mark.parametrize(
    ("policy", "enrolled", "amr", "demanded", "due"),
    [
        ("off", True, ("pwd",), False, False),
        ("off", False, ("pwd",), True, True),
        ("optional", False, ("pwd",), False, False),
        ("optional", True, ("pwd",), False, True),
        ("required", False, ("pwd",), False, True),
        ("required", True, ("pwd", "otp", "mfa"), True, False),
    ],
)
def test_when_a_second_factor_is_due(policy, enrolled, amr, demanded, due):
    assert second_factor_due(policy, enrolled, amr, demanded) is due


@pytest.mark.parametrize(
    ("acr_values", "essential", "demanded"),
    [
        ((), (), "1"),
        (("3",), (), "3"),
        (("2", "3"), (), "2"),  # the first supported entry is the one aimed for
        (("3", "2"), (), "3"),
        (("urn:example:unknown", "3"), (), "3"),
        ((), ("3",), "3"),
        ((), ("2", "3"), "2"),  # either satisfies the essential claim: the lower is enough
        ((), ("1", "3"), "1"),
        (("1",), ("3",), "3"),  # the essential claim wins over a voluntary preference
    ],
)
def test_which_requests_demand_a_passkey(acr_values, essential, demanded):
    assert demanded_acr(acr_values, essential) == demanded
    assert demands_passkey(acr_values, essential) is (demanded == "3")
    assert demands_mfa(acr_values, essential) is (demanded != "1")


@pytest.mark.parametrize(
    ("amr", "demanded", "due"),
    [
        (("pwd", "otp", "mfa"), "3", True),  # a code is two factors, not phishing-resistant
        (("pwd", "hwk", "mfa"), "3", True),  # a passkey without user verification neither
        (("pwd", "hwk", "user", "mfa"), "3", False),
        (("swk", "user", "mfa"), "3", False),
        (("pwd",), "3", True),
        (("pwd", "otp", "mfa"), "2", False),
        (("pwd",), "1", False),
    ],
)
def test_when_a_passkey_is_due(amr, demanded, due):
    assert second_factor_due("off", True, amr, demanded) is due


@pytest.mark.parametrize(
    ("amr", "level"),
    [
        (("pwd",), "1"),
        (("email",), "1"),
        (("hwk",), "1"),
        (("pwd", "otp", "mfa"), "2"),
        (("pwd", "hwk", "mfa"), "2"),
        (("pwd", "otp", "swk", "user", "mfa"), "3"),
        (("hwk", "user", "mfa"), "3"),
    ],
)
def test_the_acr_ladder(amr, level):
    assert acr_level(amr) == level == acr_for(amr)


def test_the_id_token_acr_answers_what_was_asked():
    passkey = ("hwk", "user", "mfa")
    asked = ClaimsRequest(acr_values=("2",))
    assert acr_for(passkey, asked) == "2"  # asked and met
    assert acr_for(passkey, ClaimsRequest()) == "3"  # nothing asked: the highest met
    assert acr_for(passkey, ClaimsRequest(acr_values=("urn:x", "3", "2"))) == "3"
    assert acr_for(("pwd",), ClaimsRequest(acr_values=("2", "1"))) == "1"  # the first met
    assert acr_for(("pwd", "otp", "mfa"), ClaimsRequest(acr_values=("3",))) == "2"  # truthful
    essential = ClaimsRequest(essential_acr=("2", "3"), acr_values=("3",))
    assert acr_for(passkey, essential) == "2"  # an essential acr is one of its values
    assert ClaimsRequest.of({"id_token": ["name"]}) == ClaimsRequest(id_token=("name",))


def test_amr_says_what_happened():
    assert amr_with(("pwd",), "otp") == ("pwd", "otp", "mfa")
    assert amr_with(("pwd",), "recovery") == ("pwd", "recovery", "mfa")
    assert amr_with(("pwd", "otp", "mfa"), "otp") == ("pwd", "otp", "mfa")
    # Two second factors are still one kind: no "mfa" without a first factor of another kind.
    assert amr_with(("otp",), "recovery") == ("otp", "recovery")
    assert acr_for(("pwd",)) == "1" and acr_for(("pwd", "otp", "mfa")) == "2"


def test_the_second_factor_comes_after_the_first_and_before_consent():
    request = AuthorizationRequest("c", "https://rp.example/cb", ("openid",), "query")
    assert authorization.next_step(request, None, None, False, False, True) == "login"
    assert authorization.next_step(request, 100.0, None, False, False, True) == "mfa"
    assert authorization.next_step(request, 100.0, None, True, False, True) == "mfa"
    assert authorization.next_step(request, 100.0, None, False, False, False) == "consent"
    # A fresh sign-in demanded (prompt=login, max_age) comes before everything else.
    assert authorization.next_step(request, 100.0, 200.0, True, False, True) == "login"
