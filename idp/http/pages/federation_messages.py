"""What the login page says when a round trip through an upstream provider ends without a
sign-in. The reason travels in the login page's URL (`?federation=<reason>`), and only these
fixed messages are ever shown for it: nothing the upstream sent reaches the page."""

from __future__ import annotations

from idp.i18n import N_

CANCELLED = N_("Signing in with the provider was cancelled. Choose another way to sign in.")
UPSTREAM_REFUSED = N_(
    "The provider could not sign you in. Please try again, or choose another way to sign in."
)
UNREACHABLE = N_("We could not reach the provider. Please try again in a moment.")
UNTRUSTED = N_(
    "The provider's answer could not be checked, so you were not signed in. Please try again."
)
EXPIRED = N_("This sign-in attempt has expired or was already used. Please start again.")
UNAVAILABLE = N_("This sign-in provider is not available.")
REGISTRATION_CLOSED = N_(
    "New accounts cannot be created here. If you already have an account, sign in with it and "
    "connect the provider on your account page."
)
NO_EMAIL = N_(
    "Your account at the provider has no e-mail address we can use. Please choose another way "
    "to sign in."
)
EMAIL_UNVERIFIED = N_(
    "Your provider has not confirmed your e-mail address, and this service needs a confirmed "
    "one. Please choose another way to sign in."
)
ACCOUNT_DISABLED = N_("You cannot sign in with this account. Please contact the administrator.")
TOO_MANY = N_("Too many attempts. Please wait a few minutes and try again.")

# Reason codes: UpstreamError's (federation/base.py), FederationRefused's
# (services/federation/linking.py) and the flow's own.
MESSAGES = {
    "access_denied": CANCELLED,
    "upstream_error": UPSTREAM_REFUSED,
    "unreachable": UNREACHABLE,
    "bad_response": UNTRUSTED,
    "invalid_token": UNTRUSTED,
    "expired": EXPIRED,
    "unavailable": UNAVAILABLE,
    "provider_gone": UNAVAILABLE,
    "registration_closed": REGISTRATION_CLOSED,
    "no_email": NO_EMAIL,
    "account_disabled": ACCOUNT_DISABLED,
    "email_unverified": EMAIL_UNVERIFIED,
    "throttled": TOO_MANY,
}

TAKEN = N_("This provider account is already connected to another account.")
LAST_WAY_IN = N_(
    "This is your only way to sign in. Set a password or add a passkey before you disconnect it."
)
# The account page's `?federation=<reason>` after "Connect" did not connect.
ACCOUNT_MESSAGES = {**MESSAGES, "taken": TAKEN, "last_way_in": LAST_WAY_IN}
