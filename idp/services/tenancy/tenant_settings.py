"""A tenant's settings (seed 002): branding of its hosted pages and its sign-in policies.

They are columns of the tenant row, read by everything else through `TenantView`, so there is
one source of truth: the access token lifetime set here is the one the token endpoint uses
(`services/tokens/access_tokens.py`), with a client's own lifetime still taking precedence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.models.tenants import (
    DEFAULT_FEDERATION_PROFILE_SYNC,
    DEFAULT_MFA_POLICY,
    DEFAULT_PASSWORD_MIN_LENGTH,
    DEFAULT_REFRESH_ABSOLUTE_LIFETIME,
    DEFAULT_REFRESH_IDLE_LIFETIME,
    DEFAULT_SESSION_LIFETIME,
    DEFAULT_SIGN_IN_METHODS,
    Tenant,
)
from idp.models.uow import UnitOfWork
from idp.services.accounts.users import MAX_PASSWORD, MIN_PASSWORD
from idp.services.errors import InvalidInput, InvalidInputs, NotFound
from idp.services.tenancy.custom_css import check_custom_css
from idp.services.tenancy.profile_attributes import parse_declarations
from idp.services.tenancy.tenants import TenantView
from idp.settings import TokenSettings

SIGN_IN_METHODS = ("password", "magic_link", "google", "github", "oidc")
MFA_POLICIES = ("off", "optional", "required")
# What an upstream sign-in copies into the person's profile (services/federation/profile_sync.py).
PROFILE_SYNC_POLICIES = ("on_sign_in", "fill_empty", "never")
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# A passkey relying party id (WebAuthn §5.1.2.1.1): a lowercase DNS name whose last label starts
# with a letter, so never an IP address, which browsers refuse as an id.
RP_ID_PATTERN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
RP_ID = re.compile(RP_ID_PATTERN)
MAX_RP_ID = 253
MAX_URL = 2048
DAY = 86400
# (low, high) seconds. Access tokens stay within a day, as for clients and `PATCH /tenants`;
# a refresh token may outlive a session, which is what "stay signed in" is for.
LIFETIMES = {
    "session_lifetime": (300, 90 * DAY),
    "access_token_lifetime": (1, DAY),
    "refresh_token_idle_lifetime": (300, 365 * DAY),
    "refresh_token_absolute_lifetime": (300, 365 * DAY),
}
# What a null in a change resets a policy to; access_token_lifetime resets to the installation's.
POLICY_DEFAULTS: dict[str, Any] = {
    "self_registration": False,
    "password_min_length": DEFAULT_PASSWORD_MIN_LENGTH,
    "session_lifetime": DEFAULT_SESSION_LIFETIME,
    "access_token_lifetime": None,
    "refresh_token_idle_lifetime": DEFAULT_REFRESH_IDLE_LIFETIME,
    "refresh_token_absolute_lifetime": DEFAULT_REFRESH_ABSOLUTE_LIFETIME,
    "mfa": DEFAULT_MFA_POLICY,
    "sign_in_methods": list(DEFAULT_SIGN_IN_METHODS),
    "dynamic_registration": None,  # an object of its own; see _apply_dynamic_registration
    # An unverified address may sign in (seed systems do); false: only after verification.
    "unverified_sign_in": True,
    "account_deletion": False,
    "profile_attributes": [],
    # Passkeys: None means the host of server.public_url (services/factors/passkeys.py).
    "passkeys_rp_id": None,
    "federation_profile_sync": DEFAULT_FEDERATION_PROFILE_SYNC,
}
# RFC 7591/7592 per tenant: off by default; once on, an initial access token is required unless
# the tenant says otherwise (RFC 7591 §3 lets the server decide; open registration lets anyone
# on the internet create clients, so it must be chosen, never fallen into).
DYNAMIC_REGISTRATION_DEFAULTS = {"enabled": False, "initial_access_token_required": True}
BRANDING_FIELDS = ("display_name", "logo_url", "primary_color", "custom_css")


@dataclass(frozen=True)
class TenantSettings:
    """The effective settings of one tenant: defaults filled in, as the tenant's users meet them."""

    tenant: TenantView
    default_access_token_lifetime: int

    def public_dict(self) -> dict[str, Any]:
        tenant = self.tenant
        return {
            "branding": {
                "display_name": tenant.display_name or tenant.name,
                "logo_url": tenant.logo_url,
                "primary_color": tenant.primary_color,
                "custom_css": tenant.custom_css,
            },
            "policies": {
                "self_registration": tenant.self_registration,
                "password_min_length": tenant.password_min_length,
                "session_lifetime": tenant.session_lifetime,
                "access_token_lifetime": tenant.access_token_lifetime
                or self.default_access_token_lifetime,
                "refresh_token_idle_lifetime": tenant.refresh_token_idle_lifetime,
                "refresh_token_absolute_lifetime": tenant.refresh_token_absolute_lifetime,
                "mfa": tenant.mfa_policy,
                "sign_in_methods": list(tenant.sign_in_methods),
                "dynamic_registration": {
                    "enabled": tenant.dynamic_registration,
                    "initial_access_token_required": tenant.dynamic_registration_requires_token,
                },
                "unverified_sign_in": tenant.unverified_sign_in,
                "account_deletion": tenant.account_deletion,
                "profile_attributes": [a.public_dict() for a in tenant.profile_attributes],
                "passkeys_rp_id": tenant.passkeys_rp_id,
                "federation_profile_sync": tenant.federation_profile_sync,
            },
        }


def get_settings(uow: UnitOfWork, slug: str, defaults: TokenSettings) -> TenantSettings:
    with uow:
        return TenantSettings(
            TenantView.of(_require(uow, slug)), defaults.access_token_lifetime_seconds
        )


def update_settings(
    uow: UnitOfWork,
    slug: str,
    branding: dict[str, Any],
    policies: dict[str, Any],
    defaults: TokenSettings,
) -> TenantSettings:
    """Apply the named fields (null resets one to its default); every bad field is reported.

    Types are checked by the caller; this checks values, and the rules between fields against
    the values the tenant will have afterwards (an idle lifetime never exceeds the absolute one).
    """
    problems: list[InvalidInput] = []
    with uow:
        tenant = _require(uow, slug)
        for group, apply, changes in (
            ("branding", _apply_branding, branding),
            ("policies", _apply_policy, policies),
        ):
            for name, value in changes.items():
                try:
                    apply(tenant, name, value)
                except InvalidInput as error:  # names its own member (profile attributes)
                    problems.append(error)
                except ValueError as error:
                    problems.append(InvalidInput(f"{group}.{name}", str(error)))
        if not problems and tenant.refresh_token_idle_lifetime > (
            tenant.refresh_token_absolute_lifetime
        ):
            problems.append(
                InvalidInput(
                    "policies.refresh_token_idle_lifetime",
                    "must not exceed refresh_token_absolute_lifetime",
                )
            )
        if problems:
            raise InvalidInputs(problems)
        uow.commit()
        return TenantSettings(TenantView.of(tenant), defaults.access_token_lifetime_seconds)


def _require(uow: UnitOfWork, slug: str) -> Tenant:
    tenant = uow.tenants.by_slug(slug)
    if tenant is None:
        raise NotFound(f"no tenant '{slug}'")
    return tenant


def _apply_branding(tenant: Tenant, name: str, value: Any) -> None:
    if name == "display_name":
        tenant.display_name = _display_name(value)
    elif name == "logo_url":
        tenant.logo_url = None if value is None else _https_url(value)
    elif name == "primary_color":
        if value is not None and not COLOR.match(value):
            raise ValueError("must be a colour as #rrggbb")
        tenant.primary_color = None if value is None else value.lower()
    elif name == "custom_css":
        tenant.custom_css = check_custom_css(value)
    else:
        raise ValueError("is not a known field")


def _apply_policy(tenant: Tenant, name: str, value: Any) -> None:
    if name not in POLICY_DEFAULTS:
        raise ValueError("is not a known field")
    if value is None:
        value = POLICY_DEFAULTS[name]
    if name in LIFETIMES and value is not None:
        low, high = LIFETIMES[name]
        if not low <= value <= high:
            raise ValueError(f"must be {low}-{high} seconds")
    if name == "password_min_length" and not MIN_PASSWORD <= value <= 128:
        # Never below NIST SP 800-63B's 8 characters; the upper bound leaves room under the
        # longest password we accept at all.
        raise ValueError(f"must be {MIN_PASSWORD}-128 (passwords may be up to {MAX_PASSWORD})")
    if name == "mfa":
        if value not in MFA_POLICIES:
            raise ValueError(f"must be one of {', '.join(MFA_POLICIES)}")
        tenant.mfa_policy = value
        return
    if name == "federation_profile_sync" and value not in PROFILE_SYNC_POLICIES:
        raise ValueError(f"must be one of {', '.join(PROFILE_SYNC_POLICIES)}")
    if name == "passkeys_rp_id" and value is not None and not _rp_id(value):
        raise ValueError("must be a lowercase host name such as example.com")
    if name == "sign_in_methods":
        value = _sign_in_methods(value)
    if name == "dynamic_registration":
        _apply_dynamic_registration(tenant, value)
        return
    if name == "profile_attributes":
        # Values already stored for an attribute no longer declared stay in the user rows but
        # are never released (released_claims reads the declarations); declaring it again
        # brings them back, as an admin who removed it by mistake would expect.
        value = [a.public_dict() for a in parse_declarations(value)]
    setattr(tenant, name, value)


def _apply_dynamic_registration(tenant: Tenant, value: dict[str, Any] | None) -> None:
    """Only the members sent change; null (for the object or a member) resets to the default."""
    changes = DYNAMIC_REGISTRATION_DEFAULTS if value is None else value
    for member, setting in changes.items():
        if member not in DYNAMIC_REGISTRATION_DEFAULTS:
            raise ValueError(f"'{member}' is not a known field")
        if setting is None:
            setting = DYNAMIC_REGISTRATION_DEFAULTS[member]
        if member == "enabled":
            tenant.dynamic_registration = bool(setting)
        else:
            tenant.dynamic_registration_requires_token = bool(setting)


def _display_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > 200:
        raise ValueError("must be 1-200 characters")
    return value


def _https_url(value: str) -> str:
    """A logo is loaded by the sign-in page: https only, so it can never be mixed content or a
    `javascript:`/`data:` URL, and no credentials or fragments that would leak or mean nothing."""
    if len(value) > MAX_URL or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"must be a URL of at most {MAX_URL} characters without spaces")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError("must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise ValueError("must not contain credentials or a fragment")
    return value


def _sign_in_methods(value: list[str]) -> list[str]:
    if not value:
        raise ValueError("at least one sign-in method is required")
    for method in value:
        if method not in SIGN_IN_METHODS:
            raise ValueError(f"unknown method '{method}' (use {', '.join(SIGN_IN_METHODS)})")
    if len(set(value)) != len(value):
        raise ValueError("must not repeat a method")
    return list(value)


def _rp_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_RP_ID and bool(RP_ID.match(value))
