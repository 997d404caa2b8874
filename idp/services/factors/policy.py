"""When a sign-in needs a second factor, and what the session's `amr` then says (issue 10 §4,
DESIGN §13).

A second factor is due, after the first and before consent, when the session has not used
two kinds of factor yet and any of these holds:
- the client demands it for this request: its most preferred `acr_values` entry that we
  support is the MFA acr (OIDC Core §3.1.2.1: voluntary, in order of preference), or it
  requires the `acr` claim as essential with only the MFA acr among the values (§5.5.1.1);
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

from idp.services.tokens.claims import ACR_VALUES, MFA_ACR

OTP = "otp"
RECOVERY = "recovery"
MFA = "mfa"
POLICY_OFF = "off"
POLICY_OPTIONAL = "optional"
POLICY_REQUIRED = "required"


def demands_mfa(acr_values: tuple[str, ...], essential_acr: tuple[str, ...]) -> bool:
    """Whether the authorization request asks for the MFA acr."""
    preferred = next((value for value in acr_values if value in ACR_VALUES), None)
    if preferred == MFA_ACR:
        return True
    met_by = set(essential_acr) & set(ACR_VALUES)
    return met_by == {MFA_ACR}


def second_factor_due(policy: str, enrolled: bool, amr: tuple[str, ...], demanded: bool) -> bool:
    """Whether a session with methods `amr` must give a second factor before going on."""
    if MFA in amr:
        return False
    if demanded or policy == POLICY_REQUIRED:
        return True
    return policy == POLICY_OPTIONAL and enrolled


def amr_with(amr: tuple[str, ...], method: str) -> tuple[str, ...]:
    """The session's methods after `method` succeeded: `mfa` once two differ (RFC 8176 §2)."""
    methods = [value for value in amr if value != MFA]
    if method not in methods:
        methods.append(method)
    kinds = {RECOVERY if value == OTP else value for value in methods}
    return (*methods, MFA) if len(kinds) >= 2 else tuple(methods)
