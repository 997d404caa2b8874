"""Remembered consents: which scopes a person allowed a client, per tenant, user and client."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from idp.models.sessions import Consent
from idp.models.uow import UnitOfWork

OFFLINE_ACCESS = "offline_access"


@dataclass(frozen=True)
class ConsentOutcome:
    """Whether a code may be issued without the consent page, and with which scopes."""

    given: bool
    scopes: tuple[str, ...]


def check_consent(
    uow: UnitOfWork,
    tenant_id: int,
    user_id: int,
    client_id: str,
    scopes: tuple[str, ...],
    *,
    interactive: bool,
    force_page: bool,
) -> ConsentOutcome:
    """The consent a request has without showing the page, for a client that does not skip it
    and a person who has not just approved it.

    `force_page` is prompt=consent. `offline_access` needs consent of its own (OIDC Core §11):
    it counts only if remembered; otherwise an interactive request shows the page for it, and a
    prompt=none request gets a code without it rather than an error, as §11 lets us ignore it.
    """
    if force_page:
        return ConsentOutcome(False, scopes)
    with uow:
        consent = uow.consents.get(tenant_id, user_id, client_id)
        remembered = set(consent.scopes) if consent else set()
    if not {scope for scope in scopes if scope != OFFLINE_ACCESS} <= remembered:
        return ConsentOutcome(False, scopes)
    if OFFLINE_ACCESS in scopes and OFFLINE_ACCESS not in remembered:
        if interactive:
            return ConsentOutcome(False, scopes)
        return ConsentOutcome(True, tuple(scope for scope in scopes if scope != OFFLINE_ACCESS))
    return ConsentOutcome(True, scopes)


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
    "profile": "See your name and profile picture",
    "email": "See your e-mail address and whether it is verified",
    "roles": "See the roles you have",
    "offline_access": "Keep access while you are not using it",
}


def describe_scopes(scopes: tuple[str, ...] | list[str]) -> list[str]:
    return [SCOPE_WORDS.get(scope, f"Use the “{scope}” permission") for scope in scopes]
