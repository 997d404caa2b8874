"""When a sign-in needs a second factor, and what the session's `amr` then says (issue 10 §4,
DESIGN §13).

A second factor is due, after the first and before consent, when the session has not used
two kinds of factor yet and any of these holds:
- the client demands it for this request: its most preferred `acr_values` entry that we
  support is the MFA acr (OIDC Core §3.1.2.1: voluntary, in order of preference), or it
  requires the `acr` claim as essential and every value we support among them needs two
  factors (§5.5.1.1);
- the client demands the phishing-resistant acr "3" the same way (first supported
  `acr_values` entry, or an essential `acr` whose only supported value is "3") and the
  session has not used a passkey with user verification: then only a passkey will do, even
  after a TOTP code (services/tokens/claims.py has the ladder);
- the tenant's `mfa` policy is `required`;
- the policy is `optional` and the person has enrolled an authenticator.
With `off`, nobody is asked unless a client demands it. A person who must give a second
factor but has none enrols one there and then, inside the authorization request.

`amr` values (RFC 8176 §2): `otp` for a TOTP code; a recovery code has no registered value,
so it is our own `recovery`, never `otp` (no one-time-password device was used). Both come
with `mfa` after a first factor of another kind: a recovery code is a look-up secret, a
"something you have" authenticator (NIST SP 800-63B §5.1.2), so with a password two kinds
were used and the acr is "2". A client that wants to tell them apart reads `amr`.
"""

from __future__ import annotations

from idp.services.tokens.claims import (
    ACR_VALUES,
    MFA_ACR,
    PASSWORD_ACR,
    PHISHING_RESISTANT_ACR,
    acr_meets,
)

OTP = "otp"
RECOVERY = "recovery"
MFA = "mfa"
POLICY_OFF = "off"
POLICY_OPTIONAL = "optional"
POLICY_REQUIRED = "required"


def demanded_acr(acr_values: tuple[str, ...], essential_acr: tuple[str, ...]) -> str:
    """The lowest `acr` the authorization request demands ("1": nothing beyond a sign-in): the
    higher of its most preferred supported `acr_values` entry and the lowest supported value
    of an essential `acr`."""
    preferred = next((value for value in acr_values if value in ACR_VALUES), PASSWORD_ACR)
    essential = [value for value in ACR_VALUES if value in essential_acr]  # in ladder order
    lowest_essential = essential[0] if essential else PASSWORD_ACR
    return max(preferred, lowest_essential, key=ACR_VALUES.index)


def demands_mfa(acr_values: tuple[str, ...], essential_acr: tuple[str, ...]) -> bool:
    """Whether the authorization request asks for two factors at least."""
    return demanded_acr(acr_values, essential_acr) != PASSWORD_ACR


def demands_passkey(acr_values: tuple[str, ...], essential_acr: tuple[str, ...]) -> bool:
    """Whether the authorization request asks for the phishing-resistant acr: a passkey."""
    return demanded_acr(acr_values, essential_acr) == PHISHING_RESISTANT_ACR


def second_factor_due(
    policy: str, enrolled: bool, amr: tuple[str, ...], demanded: bool | str
) -> bool:
    """Whether a session with methods `amr` must give a (further) factor before going on.
    `demanded`: the acr the request demands (demanded_acr), or True for the MFA acr."""
    if demanded is True:
        demanded = MFA_ACR
    if demanded == PHISHING_RESISTANT_ACR and not acr_meets(amr, PHISHING_RESISTANT_ACR):
        return True
    if MFA in amr:
        return False
    if demanded in (MFA_ACR, PHISHING_RESISTANT_ACR) or policy == POLICY_REQUIRED:
        return True
    return policy == POLICY_OPTIONAL and enrolled


def amr_with(amr: tuple[str, ...], method: str) -> tuple[str, ...]:
    """The session's methods after `method` succeeded: `mfa` once two differ (RFC 8176 §2)."""
    methods = [value for value in amr if value != MFA]
    if method not in methods:
        methods.append(method)
    kinds = {RECOVERY if value == OTP else value for value in methods}
    return (*methods, MFA) if len(kinds) >= 2 else tuple(methods)
