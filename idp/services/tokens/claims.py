"""What a person's tokens may say about them: the claims each scope releases (OpenID Connect
Core 1.0 §5.4), the `claims` request parameter (§5.5), and the `acr` values we can satisfy.

Apart from ID tokens so that the authorization request, the code, refresh token families and
userinfo can all carry a claims request without depending on how ID tokens are built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Our `acr` values (OIDC Core §2), in the sense of ISO/IEC 29115's assurance levels:
# "1": one factor (a password); "2": two factors of different kinds, the session's `amr` holds
# "mfa" (RFC 8176 §2). A passkey with user verification is two factors by itself (`hwk` or
# `swk` with `user`, services/factors/passkeys.py), so it alone meets "2", phishing-resistant.
# Discovery advertises exactly these.
PASSWORD_ACR = "1"
MFA_ACR = "2"
ACR_VALUES = (PASSWORD_ACR, MFA_ACR)
# Scopes this server understands, and the claims each releases (OIDC Core §5.4; `roles` ours).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "picture", "updated_at"),
    "email": ("email", "email_verified"),
    "roles": ("roles",),
}
# Every claim about the person we can release, by scope or by name through `claims` (§5.5).
USER_CLAIMS = tuple(dict.fromkeys(claim for claims in SCOPE_CLAIMS.values() for claim in claims))
MAX_CLAIMS_REQUEST = 4096


@dataclass(frozen=True)
class ClaimsRequest:
    """The `claims` parameter (OIDC Core §5.5), reduced to what changes our answer: the names of
    the claims we support that were asked for, per place (essential or not: we release what the
    person has either way, §5.5.1), and the `acr` values required as essential, if any."""

    id_token: tuple[str, ...] = ()
    userinfo: tuple[str, ...] = ()
    essential_acr: tuple[str, ...] = ()

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> ClaimsRequest:
        """From its JSON form in a stored transaction or code."""
        data = data or {}
        return cls(
            *(tuple(data.get(place, ())) for place in ("id_token", "userinfo", "essential_acr"))
        )

    @property
    def acr_unmet(self) -> bool:
        """An essential `acr` none of whose values we can satisfy: OIDC Core §5.5.1.1 makes that
        a failed authentication. An essential `acr` without values is met by any acr."""
        return bool(self.essential_acr) and not set(self.essential_acr) & set(ACR_VALUES)


def acr_for(amr: tuple[str, ...] | list[str]) -> str:
    """The `acr` a session with these methods met: what the ID token says, truthfully."""
    return MFA_ACR if "mfa" in amr else PASSWORD_ACR


def parse_claims_request(text: str) -> ClaimsRequest:
    """The parsed request, or ValueError if it is malformed.

    §5.5: a JSON object whose `userinfo` and `id_token` members are objects mapping claim names
    to null or to an object (`essential`, `value`, `values`). Claims we do not know are ignored.
    """
    if len(text) > MAX_CLAIMS_REQUEST:
        raise ValueError("too long")
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ValueError("not JSON") from error
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    members: dict[str, dict[str, Any]] = {}
    for place in ("id_token", "userinfo"):
        member = data.get(place)
        if member is None:
            member = {}
        if not isinstance(member, dict):
            raise ValueError(f"{place} is not an object")
        for name, spec in member.items():
            if spec is not None and not _claim_spec_ok(spec):
                raise ValueError(f"{place}.{name} is malformed")
        members[place] = member
    return ClaimsRequest(
        id_token=tuple(name for name in members["id_token"] if name in USER_CLAIMS),
        userinfo=tuple(name for name in members["userinfo"] if name in USER_CLAIMS),
        essential_acr=_essential_values(members["id_token"].get("acr")),
    )


def _claim_spec_ok(spec: object) -> bool:
    return (
        isinstance(spec, dict)
        and isinstance(spec.get("essential", False), bool)
        and isinstance(spec.get("values", []), list)
    )


def _essential_values(spec: dict[str, Any] | None) -> tuple[str, ...]:
    if not spec or spec.get("essential") is not True:
        return ()
    values = [*spec.get("values", []), *([spec["value"]] if "value" in spec else [])]
    return tuple(str(value) for value in values)
