"""The account page in Chromium (issue 9 §6): a person opens {issuer}/account, signs in on
the login page through the account client, edits the profile, uploads a picture, ends a
session of another browser and revokes an app, all without JavaScript of ours."""

from __future__ import annotations

import io
from typing import Any

import requests
from PIL import Image

from tests.http.test_refresh_tokens import TokenClient, offline_client
from tests.support.account import signed_in_account
from tests.support.browser import PASSWORD, Browser
from tests.support.factories import Factory


def _png(tmp_path: Any) -> str:
    path = tmp_path / "me.png"
    Image.new("RGB", (900, 700), (30, 120, 200)).save(path, format="PNG")
    return str(path)


def test_a_person_looks_after_their_account(chromium: Any, make: Factory, tmp_path: Any):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, name="Ada Lovelace")
    issued = offline_client(make, tenant, name="Photo Printer")
    # An app this person let in, and a second browser where they are signed in.
    elsewhere = signed_in_account(issuer, person.email)
    TokenClient(elsewhere, issuer, issued).sign_in(Browser(elsewhere, issuer), person)

    context = chromium.new_context()
    page = context.new_page()
    page.goto(f"{issuer}/account")
    page.wait_for_url(f"{issuer}/login?txn=**")
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{issuer}/account")
    assert page.get_by_role("heading", level=1).inner_text() == "Your account"

    page.get_by_label("Given name").fill("Augusta Ada")
    page.get_by_label("Family name").fill("King")
    page.get_by_label("Full name").fill("")
    page.get_by_role("button", name="Save the profile").click()
    page.wait_for_url(f"{issuer}/account?done=profile")
    assert page.get_by_label("Given name").input_value() == "Augusta Ada"

    page.get_by_label("New picture").set_input_files(_png(tmp_path))
    page.get_by_role("button", name="Upload the picture").click()
    page.wait_for_url(f"{issuer}/account?done=picture")
    source = page.get_by_role("img", name="Your picture").get_attribute("src")
    served = requests.get(source, timeout=10)
    assert Image.open(io.BytesIO(served.content)).size == (512, 398)

    assert page.get_by_text("This browser").count() == 1
    page.get_by_role("button", name="Sign out the session 2").click()
    page.wait_for_url(f"{issuer}/account?done=session")
    assert elsewhere.get(f"{issuer}/account", allow_redirects=False).status_code == 303
    elsewhere.close()

    assert page.get_by_text("Photo Printer").count() == 1
    page.get_by_role("button", name="Remove the access of Photo Printer").click()
    page.wait_for_url(f"{issuer}/account?done=app")
    assert page.get_by_text("No app has access to your account.").count() == 1
    context.close()
    with make.services.uow() as uow:
        user = uow.users.by_subject(tenant.id, person.subject)
        assert (user.given_name, user.family_name, user.name) == (
            "Augusta Ada",
            "King",
            "Augusta Ada King",
        )
        assert user.picture == source
