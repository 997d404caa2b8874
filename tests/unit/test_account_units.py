"""Small rules of the account page, without a server: how a User-Agent is described, and
what the picture re-encoder accepts and produces (services/accounts/pictures.py)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from idp.services.accounts.account_client import s256
from idp.services.accounts.account_sessions import describe_user_agent
from idp.services.accounts.pictures import MAX_SIDE, NOT_AN_IMAGE, TOO_MANY_PIXELS, reencode
from idp.services.errors import InvalidInput

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
EDGE = CHROME_WINDOWS + " Edg/120.0.2210.91"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "described"),
    [
        (CHROME_WINDOWS, ("Chrome", "Windows")),
        (EDGE, ("Edge", "Windows")),
        (SAFARI_IPHONE, ("Safari", "iOS")),
        (FIREFOX_LINUX, ("Firefox", "Linux")),
        (CHROME_ANDROID, ("Chrome", "Android")),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_user_agents_in_plain_words(user_agent, described):
    assert describe_user_agent(user_agent) == described


def test_s256_matches_rfc_7636_appendix_b():
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def _encoded(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **save)
    return out.getvalue()


def test_an_animated_gif_becomes_its_first_frame():
    frames = [Image.new("P", (40, 40), color) for color in (1, 2, 3)]
    gif = _encoded(frames[0], "GIF", save_all=True, append_images=frames[1:])
    stored = reencode(gif)
    image = Image.open(io.BytesIO(stored.content))
    assert stored.content_type in ("image/png", "image/jpeg")
    assert getattr(image, "n_frames", 1) == 1


def test_large_pictures_are_bounded_and_small_ones_kept():
    big = reencode(_encoded(Image.new("RGB", (3000, 1000)), "PNG"))
    assert Image.open(io.BytesIO(big.content)).size == (MAX_SIDE, 171)
    small = reencode(_encoded(Image.new("RGB", (64, 32)), "PNG"))
    assert Image.open(io.BytesIO(small.content)).size == (64, 32)


@pytest.mark.parametrize(
    "upload",
    [
        b"",
        b"%PDF-1.7 not a picture",
        _encoded(Image.new("RGB", (10, 10)), "BMP"),  # an image Pillow reads, not one we accept
        _encoded(Image.new("RGB", (50, 50)), "PNG")[:60],  # truncated
    ],
)
def test_what_is_not_an_accepted_image_is_refused(upload):
    with pytest.raises(InvalidInput) as refused:
        reencode(upload)
    assert (refused.value.field, refused.value.message) == ("picture", NOT_AN_IMAGE)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_damaged_files_are_refused_never_an_error(fmt):
    """Flipped and cut bytes in every accepted format: a picture or InvalidInput, nothing else."""
    good = _encoded(Image.new("RGB", (60, 40), (90, 160, 20)), fmt)
    chance = random.Random(fmt)
    for _ in range(150):
        damaged = bytearray(good[: chance.randrange(8, len(good) + 1)])
        for _ in range(chance.randrange(1, 6)):
            damaged[chance.randrange(len(damaged))] = chance.randrange(256)
        try:
            reencode(bytes(damaged))
        except InvalidInput as refused:
            assert refused.field == "picture"


def test_a_large_photo_is_decoded_at_a_reduced_scale_and_a_large_png_refused():
    photo = reencode(_encoded(Image.new("RGB", (8000, 6000), (1, 2, 3)), "JPEG"))
    assert Image.open(io.BytesIO(photo.content)).size == (MAX_SIDE, 384)
    with pytest.raises(InvalidInput) as refused:
        reencode(_encoded(Image.new("RGB", (5000, 5000)), "PNG"))
    assert refused.value.message == TOO_MANY_PIXELS
