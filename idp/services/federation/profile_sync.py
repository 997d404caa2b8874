"""What an upstream sign-in copies into a person's profile: the tenant's policy
`federation_profile_sync` (services/tenancy/tenant_settings.py).

- `on_sign_in`: every profile claim the upstream sends replaces ours at every sign-in (the
  upstream is the source of truth, as in a company directory);
- `fill_empty` (the default): only claims our profile lacks, so what the person typed on the
  account page is never overwritten by an upstream that knows less;
- `never`: nothing after the account's creation.

A new account (just in time) always starts with what the upstream sent. Only name, given_name,
family_name and picture: e-mail and its verification follow the linking rules (linking.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from idp.federation.base import UpstreamIdentity
from idp.models.users import User
from idp.services.accounts.users import check_name
from idp.services.errors import InvalidInput

ON_SIGN_IN = "on_sign_in"
FILL_EMPTY = "fill_empty"
NEVER = "never"
MAX_PICTURE = 2048


def upstream_profile(identity: UpstreamIdentity) -> dict[str, str]:
    """The upstream's profile claims that we would store, each checked as our own forms check
    them; a value we could not store (too long, not an https picture) is left out."""
    values: dict[str, str] = {}
    for claim in ("name", "given_name", "family_name"):
        try:
            value = check_name(claim, getattr(identity, claim))
        except InvalidInput:
            continue
        if value:
            values[claim] = value
    picture = identity.picture
    # Shown on our pages as an <img>: https only, never mixed content or a javascript: URL.
    if picture and len(picture) <= MAX_PICTURE and urlsplit(picture).scheme == "https":
        values["picture"] = picture
    return values


def sync_profile(user: User, identity: UpstreamIdentity, policy: str) -> bool:
    """Apply the tenant's policy to `user` (in the caller's transaction); True if it changed."""
    if policy == NEVER:
        return False
    changed = False
    for claim, value in upstream_profile(identity).items():
        current = getattr(user, claim)
        if current == value or (policy == FILL_EMPTY and current):
            continue
        setattr(user, claim, value)
        changed = True
    return changed
