"""When a second factor is due and what `amr`/`acr` then say (services/factors/policy.py,
issue 10 §4), and where the second step sits among the steps of an authorization request."""

from __future__ import annotations

import pytest

from idp.services.factors.policy import amr_with, demands_mfa, second_factor_due
from idp.services.signin import authorization
from idp.services.signin.authorization import AuthorizationRequest
from idp.services.tokens.claims import acr_for


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
