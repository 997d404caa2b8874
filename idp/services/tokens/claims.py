"""What a person's tokens may say about them: the claims each scope releases (OpenID Connect
Core 1.0 §5.4), the `claims` request parameter (§5.5), and the `acr` values we can satisfy.

Apart from ID tokens so that the authorization request, the code, refresh token families and
userinfo can all carry a claims request without depending on how ID tokens are built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Our `acr` values (OIDC Core §2), a ladder in the sense of ISO/IEC 29115's assurance levels,
# each meeting the ones below it (3 ⊃ 2 ⊃ 1):
# "1": one factor (a password, an e-mailed link);
# "2": two factors of different kinds, the session's `amr` holds "mfa" (RFC 8176 §2);
# "3": phishing-resistant multi-factor: a passkey with user verification, `amr` holds `hwk` or
#      `swk` with `user` (services/factors/passkeys.py), two factors by itself and bound to our
#      origin, so a look-alike site cannot replay it. A TOTP or recovery code never meets "3".
# Discovery advertises exactly these.
PASSWORD_ACR = "1"
MFA_ACR = "2"
PHISHING_RESISTANT_ACR = "3"
ACR_VALUES = (PASSWORD_ACR, MFA_ACR, PHISHING_RESISTANT_ACR)
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
    person has either way, §5.5.1), and the `acr` values required as essential, if any.

    `acr_values` is not part of `claims`: it is the request's `acr_values` parameter (§3.1.2.1),
    carried here so that the code and the refresh token family bring it to the ID token, whose
    `acr` answers what was asked (`acr_for`). Codes and families stored before it existed read
    as having asked for none."""

    id_token: tuple[str, ...] = ()
    userinfo: tuple[str, ...] = ()
    essential_acr: tuple[str, ...] = ()
    acr_values: tuple[str, ...] = ()

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> ClaimsRequest:
        """From its JSON form in a stored transaction, code or refresh token family."""
        data = data or {}
        places = ("id_token", "userinfo", "essential_acr", "acr_values")
        return cls(*(tuple(data.get(place, ())) for place in places))

    @property
    def acr_unmet(self) -> bool:
        """An essential `acr` none of whose values we can satisfy: OIDC Core §5.5.1.1 makes that
        a failed authentication. An essential `acr` without values is met by any acr."""
        return bool(self.essential_acr) and not set(self.essential_acr) & set(ACR_VALUES)


def acr_level(amr: tuple[str, ...] | list[str]) -> str:
    """The highest `acr` a session with these methods met."""
    if "user" in amr and ("hwk" in amr or "swk" in amr):
        return PHISHING_RESISTANT_ACR
    return MFA_ACR if "mfa" in amr else PASSWORD_ACR


def acr_meets(amr: tuple[str, ...] | list[str], acr: str) -> bool:
    """Whether a session with these methods met `acr` (one of ours; the ladder is ordered)."""
    return acr in ACR_VALUES and ACR_VALUES.index(acr) <= ACR_VALUES.index(acr_level(amr))


def acr_for(amr: tuple[str, ...] | list[str], asked: ClaimsRequest | None = None) -> str:
    """The `acr` the ID token says: truthful, and the answer to what was asked.

    With an essential `acr`, the first of its values the session met (§5.5.1.1: the claim
    must be one of them); else with `acr_values`, the first of those the session met
    (§3.1.2.1); otherwise, and when none was met, the highest level the session met."""
    for values in (asked.essential_acr, asked.acr_values) if asked else ():
        met = next((value for value in values if acr_meets(amr, value)), None)
        if met is not None:
            return met
    return acr_level(amr)


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
