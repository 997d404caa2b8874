"""Discovery (OIDC Discovery 1.0, RFC 8414): exactly what is implemented, nothing more."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from idp import i18n
from idp.oauth.authorize import RESPONSE_MODES
from idp.oauth.client_auth import ASSERTION_ALGS
from idp.oauth.grants import TOKEN_AUTH_METHODS
from idp.services.oauth_clients.clients import TOKEN_EXCHANGE
from idp.services.tenancy.profile_attributes import ProfileAttribute
from idp.services.tokens.claims import ACR_VALUES, SCOPE_CLAIMS, USER_CLAIMS
from idp.services.tokens.refresh_tokens import OFFLINE_ACCESS
from idp.settings import SIGNING_ALGS


@lru_cache(maxsize=1024)
def metadata_json(
    issuer: str, registration: bool, attributes: tuple[ProfileAttribute, ...] = ()
) -> str:
    """The metadata depends on the issuer, whether it offers registration and the tenant's
    profile attributes: serialised once per tenant, settings and process. The settings come
    from the tenant cache, so a change shows here within `cache.tenant_seconds`."""
    return json.dumps(server_metadata(issuer, registration, attributes))


def server_metadata(
    issuer: str, registration: bool = False, attributes: tuple[ProfileAttribute, ...] = ()
) -> dict[str, Any]:
    """`registration`: the tenant has dynamic client registration on (RFC 7591 §3).
    `attributes`: the tenant's own claims, and the scopes that release them, are listed too."""
    metadata = {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks.json",
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        # draft-ietf-oauth-first-party-apps §4.1: native sign-in of first-party apps.
        "authorization_challenge_endpoint": f"{issuer}/authorize-challenge",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "end_session_endpoint": f"{issuer}/logout",  # OIDC RP-Initiated Logout 1.0 §2.1
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            TOKEN_EXCHANGE,  # RFC 8693, for native sign-in with an upstream token
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
        "backchannel_logout_supported": True,  # OIDC Back-Channel Logout 1.0 §2.1
        "backchannel_logout_session_supported": True,  # every logout token carries `sid`
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(SIGNING_ALGS),
        "scopes_supported": list(
            dict.fromkeys([*SCOPE_CLAIMS, OFFLINE_ACCESS, *(a.scope for a in attributes)])
        ),
        "claims_supported": [
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "at_hash",
            "sid",
            "azp",
            *USER_CLAIMS,
            *(attribute.name for attribute in attributes),
        ],
        # OIDC Core §5.5: any claim above about the person may be asked for by name.
        "claims_parameter_supported": True,
        "acr_values_supported": list(ACR_VALUES),
        "ui_locales_supported": list(i18n.LANGUAGES),
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        # Public clients (RFC 8252 native apps, browser apps) with PKCE.
        "token_endpoint_auth_methods_supported": [*TOKEN_AUTH_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": TOKEN_AUTH_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGS,
    }
    if registration:
        metadata["registration_endpoint"] = f"{issuer}/register"  # RFC 8414 §2
    return metadata
