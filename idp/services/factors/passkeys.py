"""Passkeys (issue 10 §2): WebAuthn ceremonies checked with py_webauthn, credentials stored per
person, and the `amr` a passkey leaves.

Challenges live in the short-lived store (DESIGN §3), single use (`take` is atomic), for
CHALLENGE_LIFETIME seconds, and bound: the caller names a random handle the browser holds in a
cookie plus what the ceremony is for (`register:<sid>`, `sign_in:<txn>`, `second:<sid>`), so a
challenge made for one browser or purpose is worthless for another. Losing the store only
makes a ceremony fail.

The origin checked is the public URL's origin; the relying party id is the tenant's
`passkeys_rp_id` or the public URL's host.

`amr` (RFC 8176 §2): `swk` for a backup-eligible credential (the BE flag: it may be synced to
other devices, so its key is not bound to one piece of hardware), `hwk` for one that cannot
leave its authenticator; plus `user` when the authenticator verified the person (UV flag: PIN
or biometric). A passkey with `user` is two factors of different kinds (something you have,
something you know or are), so with `user` the session's `amr` gains `mfa` and its acr is
"2" (services/tokens/claims.py): a phishing-resistant multi-factor method (NIST SP 800-63B
§5.2.5: the signature covers our origin).

py_webauthn (with pyOpenSSL, pyasn1 and cbor2: ~7 MB a process) is imported by the ceremonies
that use it, so a worker that only ever signs people in with a password does not load it.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, select, update

from idp.models.passkeys import Passkey
from idp.models.uow import UnitOfWork
from idp.stores import ShortLivedStore

CHALLENGE_LIFETIME = 300  # seconds: WebAuthn §15.4 suggests a few minutes for a ceremony
MAX_NAME = 64
MAX_CREDENTIAL_JSON = 16 * 1024
HWK, SWK, USER = "hwk", "swk", "user"


class PasskeyRefused(Exception):
    """A response that does not verify: forged, replayed, for another origin or relying party,
    of an unknown credential, or a ceremony whose challenge expired or was used."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str

    @classmethod
    def of(cls, public_url: str, rp_id: str | None, name: str) -> RelyingParty:
        parts = urlsplit(public_url)
        return cls(rp_id or parts.hostname or "localhost", name, f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class PasskeyView:
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    amr: tuple[str, ...]

    def public_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


@dataclass(frozen=True)
class Asserted:
    """A verified assertion: whose passkey it was, and the methods it proved."""

    user_id: int
    amr: tuple[str, ...]


def passkey_amr(backup_eligible: bool, user_verified: bool) -> tuple[str, ...]:
    kind = SWK if backup_eligible else HWK
    return (kind, USER) if user_verified else (kind,)


class Challenges:
    """The store side of a ceremony: one challenge per handle and purpose, taken once."""

    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant_id: int, handle: str) -> str:
        return f"passkey:challenge:{tenant_id}:{handle}"

    def issue(self, tenant_id: int, purpose: str) -> tuple[str, bytes]:
        """A new handle (for the browser's cookie) and its challenge."""
        handle, challenge = secrets.token_urlsafe(32), secrets.token_bytes(32)
        encoded = base64.urlsafe_b64encode(challenge).decode().rstrip("=")
        value = json.dumps({"purpose": purpose, "challenge": encoded})
        self._store.put(self._key(tenant_id, handle), value, CHALLENGE_LIFETIME)
        return handle, challenge

    def take(self, tenant_id: int, handle: str | None, purpose: str) -> bytes:
        """The challenge issued for this handle and purpose, once; PasskeyRefused otherwise."""
        raw = self._store.take(self._key(tenant_id, handle)) if handle else None
        found = json.loads(raw) if raw else None
        if found is None or not secrets.compare_digest(found["purpose"], purpose):
            raise PasskeyRefused("no such ceremony")
        return base64.urlsafe_b64decode(found["challenge"] + "==")


def _user_passkeys(uow: UnitOfWork, tenant_id: int, user_id: int) -> list[Passkey]:
    return list(
        uow.session.scalars(
            select(Passkey)
            .where(Passkey.tenant_id == tenant_id, Passkey.user_id == user_id)
            .order_by(Passkey.id)
        )
    )


def list_passkeys(uow: UnitOfWork, tenant_id: int, user_id: int) -> list[PasskeyView]:
    with uow:
        return [
            PasskeyView(
                p.id,
                p.name,
                p.created_at,
                p.last_used_at,
                passkey_amr(p.backup_eligible, p.user_verified),
            )
            for p in _user_passkeys(uow, tenant_id, user_id)
        ]


def has_passkeys(uow: UnitOfWork, tenant_id: int, user_id: int) -> bool:
    """Whether the person can give a passkey (at /mfa, and for the `optional` MFA policy)."""
    with uow:
        found = uow.session.scalar(
            select(Passkey.id)
            .where(Passkey.tenant_id == tenant_id, Passkey.user_id == user_id)
            .limit(1)
        )
        return found is not None


def registration_options(
    uow: UnitOfWork, rp: RelyingParty, tenant_id: int, user_id: int, label: str, challenge: bytes
) -> str:
    """The JSON for navigator.credentials.create(): a discoverable credential (so it can sign
    in with no e-mail typed), none of the person's existing ones again."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    with uow:
        existing = [
            PublicKeyCredentialDescriptor(id=p.credential_id)
            for p in _user_passkeys(uow, tenant_id, user_id)
        ]
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=label,
        user_id=_user_handle(tenant_id, user_id),
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=existing,
    )
    return options_to_json(options)


def register(
    uow: UnitOfWork,
    rp: RelyingParty,
    tenant_id: int,
    user_id: int,
    name: str,
    credential: str,
    challenge: bytes,
) -> PasskeyView:
    """Verify the browser's attestation and store the credential; PasskeyRefused otherwise."""
    from webauthn import verify_registration_response
    from webauthn.helpers import parse_registration_credential_json
    from webauthn.helpers.exceptions import WebAuthnException
    from webauthn.helpers.structs import CredentialDeviceType

    try:
        parsed = parse_registration_credential_json(credential[:MAX_CREDENTIAL_JSON])
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRefused(str(error)) from error
    backup = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    passkey = Passkey(
        tenant_id=tenant_id,
        user_id=user_id,
        name=_label(name),
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t.value) for t in parsed.response.transports or []],
        user_verified=verified.user_verified,
        backup_eligible=backup,
    )
    with uow:
        taken = uow.session.scalar(
            select(Passkey.id).where(
                Passkey.tenant_id == tenant_id, Passkey.credential_id == verified.credential_id
            )
        )
        if taken is not None:
            raise PasskeyRefused("credential already registered")
        uow.session.add(passkey)
        uow.commit()
        amr = passkey_amr(backup, verified.user_verified)
        return PasskeyView(passkey.id, passkey.name, passkey.created_at, None, amr)


def authentication_options(
    uow: UnitOfWork,
    rp: RelyingParty,
    tenant_id: int,
    user_id: int | None,
    challenge: bytes,
    verify_user: bool = False,
) -> str:
    """The JSON for navigator.credentials.get(): any discoverable credential of ours when no
    one is known yet (`user_id` None), else one of this person's. `verify_user`: the request
    demands the phishing-resistant acr, which needs `user` in the amr, so user verification is
    required rather than preferred (an authenticator that cannot verify leaves the acr lower:
    the session's amr says what happened either way)."""
    from webauthn import generate_authentication_options, options_to_json
    from webauthn.helpers.structs import (
        PublicKeyCredentialDescriptor,
        UserVerificationRequirement,
    )

    allowed: list[PublicKeyCredentialDescriptor] = []
    if user_id is not None:
        with uow:
            allowed = [
                PublicKeyCredentialDescriptor(id=p.credential_id)
                for p in _user_passkeys(uow, tenant_id, user_id)
            ]
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED
        if verify_user
        else UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options)


def verify_assertion(
    uow: UnitOfWork,
    rp: RelyingParty,
    tenant_id: int,
    credential: str,
    challenge: bytes,
    user_id: int | None = None,
) -> Asserted:
    """Verify a signature by a registered credential (of `user_id`, when given) and record its
    new signature counter; PasskeyRefused otherwise."""
    from webauthn import verify_authentication_response
    from webauthn.helpers import parse_authentication_credential_json
    from webauthn.helpers.exceptions import WebAuthnException

    try:
        parsed = parse_authentication_credential_json(credential[:MAX_CREDENTIAL_JSON])
    except (WebAuthnException, ValueError, TypeError, KeyError) as error:
        raise PasskeyRefused(str(error)) from error
    with uow:
        passkey = uow.session.scalar(
            select(Passkey).where(
                Passkey.tenant_id == tenant_id, Passkey.credential_id == parsed.raw_id
            )
        )
        if passkey is None or (user_id is not None and passkey.user_id != user_id):
            raise PasskeyRefused("unknown credential")
        handle = parsed.response.user_handle
        if handle and handle != _user_handle(tenant_id, passkey.user_id):
            raise PasskeyRefused("user handle of another person")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=rp.id,
                expected_origin=rp.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=passkey.sign_count,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as error:
            raise PasskeyRefused(str(error)) from error
        # Guarded on the count read: of two racing uses of one signature only one counts.
        counted = uow.session.execute(
            update(Passkey)
            .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
            .values(sign_count=verified.new_sign_count, last_used_at=datetime.now(UTC))
        )
        uow.commit()
        if not counted.rowcount:  # type: ignore[attr-defined]
            raise PasskeyRefused("signature counted already")
        return Asserted(
            passkey.user_id, passkey_amr(passkey.backup_eligible, verified.user_verified)
        )


def remove_passkey(uow: UnitOfWork, tenant_id: int, user_id: int, passkey_id: int) -> bool:
    """Forget one of the person's passkeys; True when there was one."""
    with uow:
        gone = uow.session.execute(
            delete(Passkey).where(
                Passkey.tenant_id == tenant_id,
                Passkey.user_id == user_id,
                Passkey.id == passkey_id,
            )
        )
        uow.commit()
        return bool(gone.rowcount)  # type: ignore[attr-defined]


def remove_all(uow: UnitOfWork, tenant_id: int, user_id: int) -> bool:
    """Forget every passkey of the person (an admin's reset); True when there was one."""
    with uow:
        gone = uow.session.execute(
            delete(Passkey).where(Passkey.tenant_id == tenant_id, Passkey.user_id == user_id)
        )
        uow.commit()
        return bool(gone.rowcount)  # type: ignore[attr-defined]


def _user_handle(tenant_id: int, user_id: int) -> bytes:
    # WebAuthn §14.6.1: an opaque handle with no personal information in it.
    return f"{tenant_id}:{user_id}".encode()


def _label(name: str) -> str:
    """The name as kept and shown: printable characters only (a NUL would not even store on
    PostgreSQL), whitespace collapsed, at most MAX_NAME; "Passkey" when nothing is left."""
    printable = "".join(char if char.isprintable() else " " for char in name)
    return " ".join(printable.split())[:MAX_NAME] or "Passkey"
