"""Remembered consents: which scopes a person allowed a client, per tenant, user and client."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from idp.models.sessions import Consent
from idp.models.uow import UnitOfWork


def has_consent(
    uow: UnitOfWork, tenant_id: int, user_id: int, client_id: str, scopes: list[str]
) -> bool:
    """True when every requested scope was allowed before, so the page can be skipped."""
    with uow:
        consent = uow.consents.get(tenant_id, user_id, client_id)
        return consent is not None and set(scopes) <= set(consent.scopes)


def remember_consent(
    uow: UnitOfWork, tenant_id: int, user_id: int, client_id: str, scopes: list[str]
) -> None:
    """Add `scopes` to what the person allowed this client; earlier grants are kept."""
    try:
        _merge_consent(uow, tenant_id, user_id, client_id, scopes)
    except IntegrityError:
        # Two first consents at once (two tabs): the other one inserted the row; add to it.
        _merge_consent(uow, tenant_id, user_id, client_id, scopes)


def _merge_consent(
    uow: UnitOfWork, tenant_id: int, user_id: int, client_id: str, scopes: list[str]
) -> None:
    with uow:
        consent = uow.consents.get(tenant_id, user_id, client_id)
        if consent is None:
            uow.consents.add(
                Consent(tenant_id=tenant_id, user_id=user_id, client_id=client_id, scopes=scopes)
            )
        else:
            consent.scopes = sorted(set(consent.scopes) | set(scopes))
        uow.commit()


# What each scope lets the application do, in the words the consent page shows.
SCOPE_WORDS = {
    "openid": "Know who you are on this site",
    "profile": "See your name",
    "email": "See your e-mail address and whether it is verified",
    "roles": "See the roles you have",
    "offline_access": "Keep access while you are not using it",
}


def describe_scopes(scopes: tuple[str, ...] | list[str]) -> list[str]:
    return [SCOPE_WORDS.get(scope, f"Use the “{scope}” permission") for scope in scopes]
