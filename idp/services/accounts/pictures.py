"""Profile pictures (issue 9 §6): checked, re-encoded, stored by us, served at a stable URL.

What is served is never what was uploaded. The upload is read by Pillow, which decides what it
is from its bytes (not its name or declared type); only PNG, JPEG, GIF and WebP are accepted,
and an image that would decode to more pixels than MAX_PIXELS is refused before it is decoded
(a decompression bomb: a few kilobytes that expand to gigabytes). The first frame is then drawn
into a new image of at most MAX_SIDE pixels a side and saved as PNG (with transparency) or
JPEG, which drops every piece of metadata (EXIF location, comments) and any payload hidden
after the image data.
"""

from __future__ import annotations

import io
import secrets
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from idp.models.pictures import UserPicture
from idp.models.uow import UnitOfWork
from idp.services.accounts.password_reset import Attempt
from idp.services.accounts.self_service import audit_account_change, owner_of
from idp.services.errors import InvalidInput
from idp.services.signin.sessions import SessionView
from idp.services.tenancy.tenants import TenantView

if TYPE_CHECKING:
    from PIL import Image

MAX_UPLOAD = 2 * 1024 * 1024
# What one upload may cost to decode: 16 megapixels are 64 MB as RGBA. A JPEG is decoded at a
# reduced scale (its "draft" mode) first, so a 50-megapixel photo costs about a sixteenth.
MAX_PIXELS = 16_000_000
MAX_SIDE = 512
ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
FIELD = "picture"
NOT_AN_IMAGE = "Choose a PNG, JPEG, GIF or WebP image."
TOO_BIG = "The picture must be at most 2 MB."
TOO_MANY_PIXELS = "The picture has too many pixels."


@dataclass(frozen=True)
class StoredPicture:
    content_type: str
    content: bytes


def reencode(upload: bytes) -> StoredPicture:
    """The picture to store, or InvalidInput (field `picture`) saying what is wrong. Pillow is
    loaded at the first upload, not in every worker at start."""
    from PIL import Image

    if len(upload) > MAX_UPLOAD:
        raise InvalidInput(FIELD, TOO_BIG)
    if not upload:
        raise InvalidInput(FIELD, NOT_AN_IMAGE)
    with warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; we refuse either way.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(upload), formats=ACCEPTED_FORMATS) as image:
                if image.format == "JPEG":
                    image.draft("RGB", (MAX_SIDE, MAX_SIDE))
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise InvalidInput(FIELD, TOO_MANY_PIXELS)
                image.seek(0)
                image.load()
                return _encoded(image)
        except InvalidInput:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise InvalidInput(FIELD, TOO_MANY_PIXELS) from error
        except Exception as error:
            # Hostile or broken files make Pillow's decoders raise many kinds of error
            # (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, EOFError
            # ...): each one means the upload is not a picture we can use, never a server error.
            raise InvalidInput(FIELD, NOT_AN_IMAGE) from error


def _encoded(image: Image.Image) -> StoredPicture:
    transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    clean = image.convert("RGBA" if transparent else "RGB")
    clean.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    if transparent:
        clean.save(out, format="PNG", optimize=True)
        return StoredPicture("image/png", out.getvalue())
    clean.save(out, format="JPEG", quality=85)
    return StoredPicture("image/jpeg", out.getvalue())


def picture_url(issuer: str, public_id: str) -> str:
    return f"{issuer}/pictures/{public_id}"


def set_picture(
    uow: UnitOfWork,
    tenant: TenantView,
    issuer: str,
    session: SessionView,
    upload: bytes,
    attempt: Attempt,
) -> str:
    """Store the re-encoded picture under a new public id (caches never show an older face)
    and make its URL the person's `picture` claim. Returns the URL."""
    picture = reencode(upload)
    public_id = secrets.token_urlsafe(24)
    with uow:
        user = owner_of(uow, tenant, session)
        # One picture per person (unique user_id): the old one goes in the same transaction.
        uow.session.execute(delete(UserPicture).where(UserPicture.user_id == user.id))
        uow.session.add(
            UserPicture(
                tenant_id=tenant.id,
                user_id=user.id,
                public_id=public_id,
                content_type=picture.content_type,
                content=picture.content,
            )
        )
        url = picture_url(issuer, public_id)
        user.picture = url
        uow.commit()
    audit_account_change(uow, tenant, "user.picture_update", session.subject, attempt)
    return url


def remove_picture(
    uow: UnitOfWork, tenant: TenantView, session: SessionView, attempt: Attempt
) -> None:
    with uow:
        user = owner_of(uow, tenant, session)
        uow.session.execute(delete(UserPicture).where(UserPicture.user_id == user.id))
        user.picture = None
        uow.commit()
    audit_account_change(uow, tenant, "user.picture_remove", session.subject, attempt)


def find_picture(uow: UnitOfWork, tenant: TenantView, public_id: str) -> StoredPicture | None:
    """The picture served at `public_id` in this tenant (another tenant's ids name nothing)."""
    if not public_id or len(public_id) > 64:
        return None
    with uow:
        found = uow.session.scalar(
            select(UserPicture).where(
                UserPicture.tenant_id == tenant.id, UserPicture.public_id == public_id
            )
        )
        return StoredPicture(found.content_type, found.content) if found else None
