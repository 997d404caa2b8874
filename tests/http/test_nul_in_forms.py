"""A NUL in a hosted page's form is a friendly bad request, never a 500.

PostgreSQL refuses U+0000 in text: ending a session or revoking an app with one in its form
field answered 500 there before idp/http/pages/forms.py refused it (a fuzz run found them).
"""

from __future__ import annotations

import pytest

from tests.support.account import post_form, signed_in_account
from tests.support.factories import Factory


@pytest.mark.parametrize(
    ("path", "field"),
    [("/account/sessions/end", "sid"), ("/account/apps/revoke", "client_id")],
)
def test_an_account_form_holding_nul_is_a_friendly_bad_request(make: Factory, path, field):
    tenant = make.tenant()
    issuer, person = make.issuer(tenant), make.user(tenant)
    with signed_in_account(issuer, person.email) as http:
        response = post_form(http, issuer, path, **{field: "a\x00b"})
        assert response.status_code == 400
        assert response.headers["Content-Type"].startswith("text/html")
        assert "idp_session" not in response.headers.get("Set-Cookie", "")
        # Nothing happened to the person's session: the account page still opens.
        assert "<h1>Your account</h1>" in http.get(f"{issuer}/account").text


def test_a_logout_form_holding_nul_is_a_friendly_bad_request(make: Factory, http):
    issuer = make.issuer(make.tenant())
    response = http.post(f"{issuer}/logout", data={"client_id": "\x00"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("text/html")
