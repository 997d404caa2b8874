"""The code flow in headless Chromium: a client library starts it, a real browser fills our hosted
pages by their labels, and the library exchanges the code and verifies the ID token (issue 3);
then the client signs the person out (OIDC RP-Initiated Logout 1.0).

Chromium is Debian's (`apt-get install -y chromium`, done by .ci/run); Playwright drives it
through `executable_path`, so no browser is downloaded. The client's redirect URI is answered
inside the browser by `page.route`, so nothing leaves the machine.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl, urlencode, urlsplit

from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.browser import PASSWORD, REDIRECT
from tests.support.chromium import sign_in
from tests.support.factories import Factory
from tests.support.logout import SIGNED_OUT

CLIENT_HOME = "https://rp.example.com/home"


def test_person_signs_in_through_the_hosted_pages_in_chromium(chromium, make: Factory, http):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, name="Grace Hopper", password=PASSWORD)
    issued = make.client(
        tenant,
        name="Shop",
        grant_types=("authorization_code", "refresh_token"),
        redirect_uris=(REDIRECT,),
        post_logout_redirect_uris=(SIGNED_OUT,),
        scopes=("openid", "profile", "email", "offline_access"),
    )
    metadata = http.get(f"{issuer}/.well-known/openid-configuration").json()
    client = OAuth2Session(
        issued.client.client_id,
        issued.secret,
        scope="openid profile email offline_access",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
    )
    verifier = generate_token(48)
    url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=verifier, nonce="nonce-1"
    )

    context = chromium.new_context()
    page = context.new_page()
    arrived = sign_in(page, url, issuer, person.email, PASSWORD, consent_heading="Shop wants to")

    token = client.fetch_token(
        metadata["token_endpoint"],
        authorization_response=arrived[-1],
        state=state,
        code_verifier=verifier,
    )
    keys = KeySet.import_key_set(http.get(metadata["jwks_uri"]).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": issued.client.client_id},
        nonce={"essential": True, "value": "nonce-1"},
    ).validate(claims)
    assert claims["name"] == "Grace Hopper"
    userinfo = client.get(metadata["userinfo_endpoint"]).json()
    assert userinfo["email"] == person.email

    # The library refreshes: a new refresh token (rotation), a new access token that works,
    # and an ID token for the same person and sign-in.
    first_refresh_token = token["refresh_token"]
    refreshed = client.refresh_token(metadata["token_endpoint"])
    assert refreshed["refresh_token"] != first_refresh_token
    again = jwt.decode(refreshed["id_token"], keys, algorithms=["RS256"]).claims
    assert (again["sub"], again["auth_time"]) == (claims["sub"], claims["auth_time"])
    assert client.get(metadata["userinfo_endpoint"]).json()["sub"] == claims["sub"]

    # The client's own page, whose buttons are forms. (Leaving a page by script navigation works
    # too, but this Chromium's request interception then misses the redirect to the client.)
    client_page: list[str] = []

    def client_home(route: object) -> None:
        route.fulfill(status=200, body=client_page[-1], content_type="text/html")

    page.route(CLIENT_HOME, client_home)

    def from_client(method: str, action: str, fields: dict[str, str]) -> None:
        inputs = "".join(
            f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
            for name, value in fields.items()
        )
        client_page.append(
            f'<form method="{method}" action="{escape(action)}">{inputs}<button>Go</button></form>'
        )
        page.goto(CLIENT_HOME)
        page.get_by_role("button", name="Go").click()

    def silent_authorization() -> str:
        url, _ = client.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=generate_token(48), prompt="none"
        )
        before = len(arrived)
        from_client("get", metadata["authorization_endpoint"], dict(parse_qsl(urlsplit(url).query)))
        page.wait_for_url(f"{REDIRECT}**")
        assert len(arrived) == before + 1, "the browser never came back to the client"
        return arrived[-1]

    # Signed in and consented: prompt=none comes straight back with a code.
    answer = silent_authorization()
    assert "code=" in answer and "state=" in answer

    # Logout without an ID token hint: we ask first, and Cancel keeps the session.
    signed_out: list[str] = []

    def after_logout(route: object) -> None:
        signed_out.append(route.request.url)
        route.fulfill(status=200, body="signed out", content_type="text/plain")

    page.route(f"{SIGNED_OUT}**", after_logout)
    asked = {"client_id": issued.client.client_id, "post_logout_redirect_uri": SIGNED_OUT}
    page.goto(f"{metadata['end_session_endpoint']}?{urlencode(asked)}")
    assert page.title().startswith("Sign out?")
    assert page.get_by_role("heading").inner_text() == "Sign out of Test tenant?"
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{issuer}/logout")
    assert page.get_by_role("heading").inner_text() == "You are signed in"

    # The client's Sign out button POSTs the ID token as hint (RP-Initiated Logout §2): it
    # proves the client knows this session, so it ends at once, although the cross-site POST
    # itself carries no SameSite=Lax cookie.
    hinted = {"id_token_hint": token["id_token"], "post_logout_redirect_uri": SIGNED_OUT}
    from_client("post", metadata["end_session_endpoint"], hinted | {"state": "bye"})
    page.wait_for_url(f"{SIGNED_OUT}**")
    assert signed_out == [f"{SIGNED_OUT}?state=bye"]

    # The session is over: prompt=none now answers login_required.
    assert "error=login_required" in silent_authorization()
    context.close()
