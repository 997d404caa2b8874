"""What a newcomer meets first (issue 9 §8): a sign-in client made without scopes may ask for
the standard OIDC scopes, and a machine client made without scopes gets none it did not ask for."""

from __future__ import annotations

from tests.support.browser import PASSWORD, REDIRECT, Browser, pkce_pair, redeem
from tests.support.factories import Factory

STANDARD = ["openid", "profile", "email", "roles"]


def test_a_sign_in_client_made_without_scopes_can_ask_for_the_standard_ones(make: Factory, http):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, password=PASSWORD)
    issued = make.client(
        tenant,
        grant_types=["authorization_code", "refresh_token"],
        redirect_uris=[REDIRECT],
        scopes=(),
    )
    assert list(issued.client.scopes) == [*STANDARD, "offline_access"]
    verifier, challenge = pkce_pair()
    answer = Browser(http, issuer).run(
        person.email,
        PASSWORD,
        response_type="code",
        client_id=issued.client.client_id,
        redirect_uri=REDIRECT,
        scope="openid email profile offline_access",
        code_challenge=challenge,
        code_challenge_method="S256",
        prompt="consent",
    )
    assert "error" not in answer, answer
    tokens = redeem(http, issuer, issued.client.client_id, issued.secret, answer["code"], verifier)
    assert tokens["scope"].split() == ["openid", "email", "profile", "offline_access"]
    assert tokens["refresh_token"] and tokens["id_token"]


def test_without_the_refresh_grant_there_is_no_offline_access(make: Factory):
    tenant = make.tenant()
    issued = make.client(
        tenant, grant_types=["authorization_code"], redirect_uris=[REDIRECT], scopes=()
    )
    assert list(issued.client.scopes) == STANDARD


def test_a_machine_client_made_without_scopes_gets_none(make: Factory):
    issued = make.client(make.tenant(), grant_types=["client_credentials"], scopes=())
    assert list(issued.client.scopes) == []
