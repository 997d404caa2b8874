"""Google: an OpenID provider at https://accounts.google.com, with one quirk.

Google's ID tokens may carry `iss` "accounts.google.com", without the scheme
(https://developers.google.com/identity/openid-connect/openid-connect#validatinganidtoken).
That spelling is accepted only for the real Google: with the issuer overridden (a test
upstream, a proxy) the rule is the generic one, `iss` exactly the configured issuer.
"""

from __future__ import annotations

from idp.federation.oidc import OpenIdProvider

GOOGLE_ISSUER = "https://accounts.google.com"
GOOGLE_BARE_ISSUER = "accounts.google.com"


class GoogleProvider(OpenIdProvider):
    def accepted_issuers(self) -> tuple[str, ...]:
        if self.issuer == GOOGLE_ISSUER:
            return (GOOGLE_ISSUER, GOOGLE_BARE_ISSUER)
        return (self.issuer,)
