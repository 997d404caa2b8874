"""Profile and picture on the account page (issue 9 §6): names and the tenant's attributes
saved with CSRF and released as claims; pictures checked, re-encoded by Pillow, served by us at
a stable URL that becomes the `picture` claim."""

from __future__ import annotations

import io
import struct
import zlib

import requests
from PIL import Image

from idp.models.users import User
from idp.services.container import Services
from tests.http.test_refresh_tokens import TokenClient, offline_client
from tests.support.account import csrf_of, post_form, set_tenant_columns, signed_in_account
from tests.support.browser import Browser, verified_claims
from tests.support.factories import Factory

ATTRIBUTES = [
    {"name": "company", "label": "Company", "type": "string", "required": True},
    {"name": "newsletter", "label": "Newsletter", "type": "boolean"},
]


def _image(fmt: str, size: tuple[int, int] = (800, 600), **save: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt, **save)
    return out.getvalue()


def upload(http: requests.Session, issuer: str, content: bytes, name: str = "me.png"):
    page = http.get(f"{issuer}/account")
    return http.post(
        f"{issuer}/account/picture",
        data={"csrf_token": csrf_of(page.text)},
        files={"picture": (name, content, "image/png")},
        allow_redirects=False,
    )


def test_a_profile_edit_shows_in_the_id_token_and_userinfo(make: Factory, services: Services):
    tenant = make.tenant()
    set_tenant_columns(services, tenant, profile_attributes=ATTRIBUTES)
    issuer = make.issuer(tenant)
    person = make.user(tenant, name="Ada Lovelace")
    with signed_in_account(issuer, person.email) as http:
        page = http.get(f"{issuer}/account")
        assert '<label for="attributes-company">Company</label>' in page.text
        missing = post_form(http, issuer, "/account/profile", given_name="Ada")
        assert missing.status_code == 400 and 'href="#attributes-company"' in missing.text
        saved = post_form(
            http,
            issuer,
            "/account/profile",
            given_name="Augusta Ada",
            family_name="King",
            name="",
            **{"attributes-company": "Analytical Engines", "attributes-newsletter": "on"},
        )
        assert (saved.status_code, saved.headers["Location"]) == (
            303,
            f"{issuer}/account?done=profile",
        )
        assert "Your profile was saved." in http.get(saved.headers["Location"]).text
        client = TokenClient(http, issuer, offline_client(make, tenant))
        tokens = client.sign_in(Browser(http, issuer), person, scope="openid profile email")
        userinfo = http.get(
            f"{issuer}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
        assert (userinfo["given_name"], userinfo["family_name"], userinfo["name"]) == (
            "Augusta Ada",
            "King",
            "Augusta Ada King",
        )
        claims = verified_claims(http, issuer, tokens["id_token"])
        assert (claims["sub"], claims["name"]) == (person.subject, "Augusta Ada King")
    with services.uow() as uow:
        stored = uow.users.by_subject(tenant.id, person.subject)
        assert stored.attributes == {"company": "Analytical Engines", "newsletter": True}


def test_posts_without_the_csrf_token_are_refused(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant, name="Ada Lovelace")
    with signed_in_account(issuer, person.email) as http:
        for path, data in [
            ("/account/profile", {"given_name": "Mallory"}),
            ("/account/picture/remove", {}),
            ("/account/email", {"new_email": "m@example.com", "email_password": "x"}),
            ("/account/sessions/end", {"all_others": "on"}),
            ("/account/apps/revoke", {"client_id": "x"}),
            ("/account/delete", {"password": "x"}),
        ]:
            refused = http.post(f"{issuer}{path}", data=data, allow_redirects=False)
            assert refused.status_code in (400, 403), (path, refused.status_code)
        no_token = http.post(
            f"{issuer}/account/picture", files={"picture": ("a.png", _image("PNG"))}
        )
        assert no_token.status_code == 400
    assert make.services.uow() is not None
    with make.services.uow() as uow:
        assert uow.users.by_subject(tenant.id, person.subject).given_name == "Ada"


def test_a_good_picture_is_re_encoded_served_and_claimed(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    with signed_in_account(issuer, person.email) as http:
        sent = _image("JPEG", (2000, 1000), exif=exif.tobytes())
        done = upload(http, issuer, sent, name="photo.txt")  # the name says nothing
        assert (done.status_code, done.headers["Location"]) == (
            303,
            f"{issuer}/account?done=picture",
        )
        page = http.get(done.headers["Location"])
        assert "Your picture was saved." in page.text
        with make.services.uow() as uow:
            url = uow.users.by_subject(tenant.id, person.subject).picture
        assert url.startswith(f"{issuer}/pictures/") and url in page.text
        served = requests.get(url, timeout=10)
        assert served.status_code == 200
        assert served.headers["Content-Type"] == "image/jpeg"
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age" in served.headers["Cache-Control"]
        assert served.content != sent and b"SecretCam" not in served.content
        image = Image.open(io.BytesIO(served.content))
        assert image.size == (512, 256) and not image.getexif()
        client = TokenClient(http, issuer, offline_client(make, tenant))
        tokens = client.sign_in(Browser(http, issuer), person, scope="openid profile")
        userinfo = http.get(
            f"{issuer}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
        assert userinfo["picture"] == url
        removed = post_form(http, issuer, "/account/picture/remove")
        assert removed.status_code == 303
        assert requests.get(url, timeout=10).status_code == 404
    other = make.tenant()
    assert requests.get(f"{make.issuer(other)}/pictures/{url.rsplit('/', 1)[1]}").status_code == 404


def test_transparent_pictures_stay_png(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    out = io.BytesIO()
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(out, format="WEBP")
    with signed_in_account(issuer, person.email) as http:
        assert upload(http, issuer, out.getvalue()).status_code == 303
        with make.services.uow() as uow:
            url = uow.users.by_subject(tenant.id, person.subject).picture
        assert requests.get(url, timeout=10).headers["Content-Type"] == "image/png"


def _png_bomb(width: int, height: int) -> bytes:
    """A valid PNG header for a huge image, with a tiny compressed body: a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = zlib.compress(b"\x00" * (1 + width * 3) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def test_too_big_not_an_image_and_bombs_are_refused_on_the_page(make: Factory):
    tenant = make.tenant()
    issuer = make.issuer(tenant)
    person = make.user(tenant)
    with signed_in_account(issuer, person.email) as http:
        cases = [
            (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", 400, "Choose a PNG, JPEG"),
            (b"GIF89a" + b"\x00" * 20, 400, "Choose a PNG, JPEG"),
            (_png_bomb(50_000, 50_000), 400, "too many pixels"),
            (b"\x00" * (3 * 1024 * 1024), 413, "at most 2 MB"),
        ]
        for content, status, words in cases:
            refused = upload(http, issuer, content)
            assert refused.status_code == status, (words, refused.status_code)
            assert words in refused.text and 'href="#picture"' in refused.text
            assert "text/html" in refused.headers["Content-Type"]
    with make.services.uow() as uow:
        assert (
            uow.session.get(User, uow.users.by_subject(tenant.id, person.subject).id).picture
            is None
        )
