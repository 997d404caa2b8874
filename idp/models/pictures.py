"""Profile pictures uploaded on the account page (issue 9 §6), stored by us.

The image is re-encoded before it is stored (services/accounts/pictures.py), so what we serve
is never the uploaded bytes. `public_id` is the random, unguessable name in the picture's URL
(the OIDC `picture` claim); a new upload gets a new one, so caches never serve an old face.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.models.base import Base, utcnow


class UserPicture(Base):
    __tablename__ = "user_pictures"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(32))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
