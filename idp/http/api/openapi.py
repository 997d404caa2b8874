"""The OpenAPI 3.1 description of `/api/v1`, kept true by tests that validate responses with it."""

from __future__ import annotations

from typing import Any

from idp.services.factors.admin import FACTOR_TYPES
from idp.services.management.api_keys import SCOPES
from idp.services.oauth_clients.clients import APPLICATION_TYPES, AUTH_METHODS, GRANT_TYPES
from idp.services.tenancy.profile_attributes import MAX_ATTRIBUTES, MAX_LABEL, TYPES
from idp.services.tenancy.tenant_settings import (
    LIFETIMES,
    MAX_RP_ID,
    MFA_POLICIES,
    PROFILE_SYNC_POLICIES,
    RP_ID_PATTERN,
    SIGN_IN_METHODS,
)
from idp.settings import SIGNING_ALGS

STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
STRINGS = {"type": "array", "items": STRING}
ALG = {"type": ["string", "null"], "enum": [*SIGNING_ALGS, None]}
LIFETIME = {"type": ["integer", "null"], "minimum": 1, "maximum": 86400}
ATTRIBUTES = {
    "type": "object",
    "additionalProperties": {"type": ["string", "boolean", "integer", "null"]},
    "description": "Values of the tenant's profile attributes (settings `profile_attributes`), "
    "by name; each must be declared and of its declared type.",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A request body: unknown fields are refused by the server, so the schema says so too."""
    return {**_object(properties, required), "additionalProperties": False}


def _list_of(name: str) -> dict[str, Any]:
    return _object(
        {"items": {"type": "array", "items": _ref(name)}, "next_cursor": NULLABLE_STRING},
        ["items", "next_cursor"],
    )


CLIENT_METADATA = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "grant_types": {"type": "array", "items": {"enum": list(GRANT_TYPES)}},
    "redirect_uris": STRINGS,
    "post_logout_redirect_uris": STRINGS,
    "scopes": STRINGS,
    "resources": STRINGS,
    "jwks": {"type": ["object", "null"]},
    "jwks_uri": NULLABLE_STRING,
    "access_token_lifetime": LIFETIME,
    "id_token_signed_response_alg": ALG,
    "access_token_signed_alg": ALG,
    "is_resource_server": {"type": "boolean"},
    "application_type": {
        "enum": list(APPLICATION_TYPES),
        "description": "OIDC Registration §2; default `web`. A `native` client registers "
        "private-use scheme or http://127.0.0.1 / http://[::1] redirect URIs and may use any "
        "loopback port (RFC 8252 §7.3); a `web` client registers https (http only on loopback).",
    },
    "backchannel_logout_uri": {
        **NULLABLE_STRING,
        "description": "OIDC Back-Channel Logout §2.2: absolute https URL (http only on "
        "loopback), no fragment, where logout tokens are POSTed.",
    },
    "backchannel_logout_session_required": {
        "type": "boolean",
        "description": "Logout tokens carry `sid`; needs `backchannel_logout_uri`.",
    },
    "allowed_cors_origins": {
        **STRINGS,
        "description": "Browser origins, exactly `scheme://host[:port]` (https, or http on "
        "loopback; lower-case host; no path, trailing slash or wildcard), that may call the "
        "token, userinfo, JWKS and revocation endpoints cross-origin. Duplicates are dropped.",
    },
    "skip_consent": {
        "type": "boolean",
        "description": "A first-party client: people are never asked to consent to it.",
    },
    "first_party": {
        "type": "boolean",
        "description": "The tenant's own app (draft-ietf-oauth-first-party-apps): it may post "
        "a person's e-mail and password to the authorization challenge endpoint. Needs the "
        "`authorization_code` grant; never set by dynamic registration.",
    },
    "logo_uri": {
        **NULLABLE_STRING,
        "description": "An https URL (http only on loopback) of a logo for the consent page.",
    },
    "always_issue_refresh_token": {
        "type": "boolean",
        "description": "Issue refresh tokens even without the `offline_access` scope.",
    },
}

SCHEMAS: dict[str, Any] = {
    "Problem": _object(
        {
            "type": STRING,
            "title": STRING,
            "status": {"type": "integer"},
            "detail": STRING,
            "request_id": NULLABLE_STRING,
            "errors": {
                "type": "array",
                "items": _object({"field": STRING, "message": STRING}, ["field", "message"]),
            },
        },
        ["type", "title", "status"],
    ),
    "Tenant": _object(
        {
            "slug": STRING,
            "name": STRING,
            "issuer": STRING,
            "signing_alg": ALG,
            "access_token_lifetime": LIFETIME,
            "created_at": TIME,
        },
        ["slug", "name", "issuer", "signing_alg", "access_token_lifetime", "created_at"],
    ),
    "TenantCreate": _closed(
        {
            "slug": {"type": "string", "pattern": "^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
        },
        ["slug", "name"],
    ),
    "TenantUpdate": _closed(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "signing_alg": ALG,
            "access_token_lifetime": LIFETIME,
        }
    ),
    "ApiKey": _object(
        {
            "id": STRING,
            "name": STRING,
            "scopes": {"type": "array", "items": {"enum": list(SCOPES)}},
            "platform": {"type": "boolean"},
            "hint": STRING,
            "expires_at": NULLABLE_TIME,
            "last_used_at": NULLABLE_TIME,
            "revoked_at": NULLABLE_TIME,
            "created_by": NULLABLE_STRING,
            "created_at": TIME,
        },
        ["id", "name", "scopes", "platform", "hint", "created_at"],
    ),
    "IssuedApiKey": {"allOf": [_ref("ApiKey"), _object({"key": STRING}, ["key"])]},
    "ApiKeyCreate": _closed(
        {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "scopes": {"type": "array", "items": {"enum": list(SCOPES)}},
            "expires_at": TIME,
        },
        ["name"],
    ),
    "Client": _object(
        {
            "client_id": STRING,
            "token_endpoint_auth_method": {"enum": list(AUTH_METHODS)},
            "response_types": STRINGS,
            "previous_secret_expires_at": NULLABLE_TIME,
            "created_at": TIME,
            **CLIENT_METADATA,
        },
        ["client_id", "name", "token_endpoint_auth_method", "grant_types", "created_at"],
    ),
    "ClientSecretRotation": _closed({"old_secret_expires_at": NULLABLE_TIME}),
    "IssuedClient": {"allOf": [_ref("Client"), _object({"client_secret": STRING})]},
    "ClientCreate": _closed(
        {**CLIENT_METADATA, "token_endpoint_auth_method": {"enum": list(AUTH_METHODS)}},
        ["name"],
    ),
    "ClientUpdate": _closed(CLIENT_METADATA),
    "Factor": _object(
        {
            "type": {"enum": list(FACTOR_TYPES)},
            "created_at": TIME,
            "confirmed": {
                "type": "boolean",
                "description": "totp: its first code was typed (false: enrolment unfinished).",
            },
            "remaining": {
                "type": "integer",
                "minimum": 0,
                "description": "recovery_codes: how many are still unused.",
            },
            "id": {"type": "integer", "description": "passkey: its id, to remove it alone."},
            "name": {"type": "string", "description": "passkey: the name its owner gave it."},
            "last_used_at": {**NULLABLE_STRING, "format": "date-time"},
        },
        ["type", "created_at"],
    ),
    "FactorList": _object(
        {"items": {"type": "array", "items": _ref("Factor")}},
        ["items"],
    ),
    "Identity": _object(
        {
            "id": {"type": "integer", "description": "To remove this identity."},
            "provider": {"type": "string", "description": "The provider's slug."},
            "issuer": {
                "type": "string",
                "description": "The upstream issuer (GitHub: its API base URL); with `subject` "
                "the key of the identity.",
            },
            "subject": STRING,
            "email": {**NULLABLE_STRING, "description": "As the upstream last said it."},
            "created_at": TIME,
            "last_used_at": {**NULLABLE_STRING, "format": "date-time"},
        },
        ["id", "provider", "issuer", "subject", "email", "created_at", "last_used_at"],
    ),
    "IdentityList": _object(
        {"items": {"type": "array", "items": _ref("Identity")}},
        ["items"],
    ),
    "User": _object(
        {
            "id": STRING,
            "sub": STRING,
            "email": STRING,
            "email_verified": {"type": "boolean"},
            "name": NULLABLE_STRING,
            "given_name": NULLABLE_STRING,
            "family_name": NULLABLE_STRING,
            "roles": STRINGS,
            "active": {"type": "boolean"},
            "created_at": TIME,
            "attributes": ATTRIBUTES,
        },
        ["id", "sub", "email", "email_verified", "roles", "active", "created_at", "attributes"],
    ),
    "UserCreate": _closed(
        {
            "email": {"type": "string", "format": "email"},
            "password": {"type": "string", "minLength": 8, "maxLength": 1024},
            "name": STRING,
            "roles": STRINGS,
            "attributes": ATTRIBUTES,
        },
        ["email"],
    ),
    "UserUpdate": _closed(
        {
            "name": NULLABLE_STRING,
            "given_name": NULLABLE_STRING,
            "family_name": NULLABLE_STRING,
            "roles": STRINGS,
            "active": {"type": "boolean"},
            "email_verified": {"type": "boolean"},
            "attributes": {
                **ATTRIBUTES,
                "description": "The values to change; null removes one, the others stay.",
            },
        }
    ),
    "PasswordResetSent": _object(
        {"id": STRING, "password_reset": {"enum": ["sent"]}}, ["id", "password_reset"]
    ),
    "Lockout": _object(
        {
            "id": STRING,
            "failures": {"type": "integer", "minimum": 0},
            "locked": {"type": "boolean"},
            "locked_until": NULLABLE_TIME,
        },
        ["id", "failures", "locked", "locked_until"],
    ),
}

SCHEMAS["Role"] = _object(
    {
        "name": STRING,
        "description": NULLABLE_STRING,
        "members": {"type": "integer"},
        "created_at": TIME,
    },
    ["name", "description", "members", "created_at"],
)
SCHEMAS["RoleCreate"] = _closed(
    {"name": {"type": "string", "minLength": 1, "maxLength": 100}, "description": NULLABLE_STRING},
    ["name"],
)
SCHEMAS["RoleUpdate"] = _closed({"description": NULLABLE_STRING})
TEAM_ROLE = {"enum": ["owner", "admin", "viewer"]}
SCHEMAS["TeamMember"] = _object(
    {
        "id": STRING,
        "email": STRING,
        "role": TEAM_ROLE,
        "added_by": NULLABLE_STRING,
        "created_at": TIME,
    },
    ["id", "email", "role", "created_at"],
)
SCHEMAS["TeamMemberCreate"] = _closed({"email": STRING, "role": TEAM_ROLE}, ["email", "role"])
SCHEMAS["TeamMemberUpdate"] = _closed({"role": TEAM_ROLE}, ["role"])
UPSTREAM_URL = {
    **NULLABLE_STRING,
    "format": "uri",
    "maxLength": 2048,
    "description": "An https URL (http only on loopback).",
}
PROVIDER_FIELDS = {
    "display_name": STRING,
    "client_id": STRING,
    "client_secret": {"type": ["string", "null"], "writeOnly": True},
    "issuer": {
        **UPSTREAM_URL,
        "description": "oidc (required) and google (default https://accounts.google.com): the "
        "upstream's issuer, whose discovery document is read. Not for github.",
    },
    "authorization_endpoint": {**UPSTREAM_URL, "description": "github only; null: github.com's"},
    "token_endpoint": {**UPSTREAM_URL, "description": "github only; null: github.com's"},
    "api_base_url": {
        **UPSTREAM_URL,
        "description": "github only; null: https://api.github.com; Enterprise Server: "
        "https://HOST/api/v3. Also the issuer of the identities it vouches for.",
    },
    "allowed_audiences": {
        **STRINGS,
        "maxItems": 20,
        "description": "google and oidc: more `aud` values accepted in an ID token a native app "
        "posts (the client ids of the tenant's Android and iOS apps).",
    },
    "scopes": STRINGS,
    "icon_uri": {**UPSTREAM_URL, "description": "The button's icon, an https URL."},
    "enabled": {"type": "boolean"},
}
SCHEMAS["Provider"] = _object(
    {
        "slug": STRING,
        "kind": {"enum": ["google", "github", "oidc"]},
        "display_name": STRING,
        "client_id": STRING,
        "client_secret_set": {"type": "boolean"},
        "issuer": NULLABLE_STRING,
        "authorization_endpoint": NULLABLE_STRING,
        "token_endpoint": NULLABLE_STRING,
        "api_base_url": NULLABLE_STRING,
        "allowed_audiences": STRINGS,
        "scopes": STRINGS,
        "icon_uri": NULLABLE_STRING,
        "enabled": {"type": "boolean"},
        "callback_url": {
            "type": "string",
            "description": "The redirect URI to register at the upstream: "
            "`{issuer}/federation/{slug}/callback`.",
        },
        "created_at": TIME,
    },
    [
        "slug",
        "kind",
        "client_id",
        "client_secret_set",
        "scopes",
        "allowed_audiences",
        "enabled",
        "callback_url",
        "created_at",
    ],
)
SCHEMAS["ProviderCreate"] = _closed(
    {**PROVIDER_FIELDS, "kind": {"enum": ["google", "github", "oidc"]}, "slug": STRING},
    ["kind", "client_id"],
)
SCHEMAS["ProviderUpdate"] = _closed(PROVIDER_FIELDS)
BRANDING = {
    "display_name": {**NULLABLE_STRING, "minLength": 1, "maxLength": 200},
    "logo_url": {
        **NULLABLE_STRING,
        "format": "uri",
        "maxLength": 2048,
        "description": "An absolute https:// URL (no credentials, no fragment).",
    },
    "primary_color": {
        **NULLABLE_STRING,
        "pattern": "^#[0-9a-fA-F]{6}$",
        "description": "Buttons and links; text on it and links are adjusted to WCAG AA contrast.",
    },
    "custom_css": {
        **NULLABLE_STRING,
        "maxLength": 20000,
        "description": "Rules added to the hosted pages' stylesheet ({issuer}/branding.css). "
        "@import, url(), script hooks, backslash escapes and '<' are refused.",
    },
}
SIGN_IN_METHOD = {"enum": list(SIGN_IN_METHODS)}


def _seconds(low: int, high: int, description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": low, "maximum": high, "description": description}


POLICIES = {
    "self_registration": {
        "type": "boolean",
        "description": "Whether people may create their own account on the hosted pages.",
    },
    "password_min_length": {"type": "integer", "minimum": 8, "maximum": 128},
    "session_lifetime": _seconds(*LIFETIMES["session_lifetime"], "Sign-in session, seconds."),
    "access_token_lifetime": _seconds(
        *LIFETIMES["access_token_lifetime"],
        "Seconds; what the token endpoint issues unless a client sets its own.",
    ),
    "refresh_token_idle_lifetime": _seconds(
        *LIFETIMES["refresh_token_idle_lifetime"],
        "Seconds a refresh token stays valid unused; at most the absolute lifetime.",
    ),
    "refresh_token_absolute_lifetime": _seconds(
        *LIFETIMES["refresh_token_absolute_lifetime"],
        "Seconds a refresh token family lives however often it is used.",
    ),
    "mfa": {"enum": list(MFA_POLICIES)},
    "sign_in_methods": {
        "type": "array",
        "items": SIGN_IN_METHOD,
        "minItems": 1,
        "uniqueItems": True,
    },
    "dynamic_registration": {
        **_object(
            {
                "enabled": {
                    "type": "boolean",
                    "description": "Whether `{issuer}/register` (RFC 7591/7592) is offered and "
                    "listed in discovery. Default false.",
                },
                "initial_access_token_required": {
                    "type": "boolean",
                    "description": "Whether registering needs an initial access token "
                    "(`Authorization: Bearer idp_iat_...`). Default true.",
                },
            },
            ["enabled", "initial_access_token_required"],
        ),
        "description": "Dynamic client registration; registered clients never get management "
        "scopes.",
    },
    "unverified_sign_in": {
        "type": "boolean",
        "description": "Whether a person may sign in before confirming their e-mail address. "
        "Default true; false: the login page asks them to confirm it first.",
    },
    "account_deletion": {
        "type": "boolean",
        "description": "Whether people may delete their own account on the account page. "
        "Default false.",
    },
    "passkeys_rp_id": {
        **NULLABLE_STRING,
        "pattern": RP_ID_PATTERN,
        "maxLength": MAX_RP_ID,
        "description": "The passkey (WebAuthn) relying party id: the public URL's host or a "
        "domain it is under. Null: the public URL's host. Passkeys registered under one id do "
        "not work under another.",
    },
    "federation_profile_sync": {
        "enum": list(PROFILE_SYNC_POLICIES),
        "description": "What a sign-in through an upstream provider (Google, GitHub, OpenID) "
        "copies into the person's name, given_name, family_name and picture: `on_sign_in` "
        "every value the upstream sends, at every sign-in; `fill_empty` (default) only what the "
        "profile lacks, so the person's own edits stay; `never` nothing after the account's "
        "creation.",
    },
    "profile_attributes": {
        "type": "array",
        "maxItems": MAX_ATTRIBUTES,
        "items": _closed(
            {
                "name": {
                    "type": "string",
                    "pattern": "^[a-z][a-z0-9_]{0,63}$",
                    "description": "The claim name; not a standard OIDC claim.",
                },
                "label": {"type": "string", "minLength": 1, "maxLength": MAX_LABEL},
                "type": {"enum": list(TYPES)},
                "required": {"type": "boolean"},
                "at_registration": {
                    "type": "boolean",
                    "description": "Asked for on the sign-up page. Default true.",
                },
                "scope": {
                    "type": "string",
                    "pattern": "^[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,64}$",
                    "description": "The scope that releases it in the ID token and userinfo. "
                    "Default `profile`; not `openid`.",
                },
            },
            ["name"],
        ),
        "description": "The tenant's own profile attributes (e.g. `company`); each person's "
        "values are in the user's `attributes`. Names are unique.",
    },
}


def _nullable_members(schema: dict[str, Any]) -> dict[str, Any]:
    """An object policy in a PATCH: only the members sent change, null resets one."""
    if schema.get("type") != "object":
        return schema
    members = schema["properties"]
    return _closed({name: {"anyOf": [m, {"type": "null"}]} for name, m in members.items()})


SCHEMAS["TenantSettings"] = _object(
    {
        "branding": _object(
            {**BRANDING, "display_name": STRING},
            ["display_name", "logo_url", "primary_color", "custom_css"],
        ),
        "policies": _object(POLICIES, list(POLICIES)),
    },
    ["branding", "policies"],
)
SCHEMAS["TenantSettingsUpdate"] = {
    **_closed(
        {
            "branding": _closed(BRANDING),
            "policies": _closed(
                {
                    name: {"anyOf": [_nullable_members(schema), {"type": "null"}]}
                    for name, schema in POLICIES.items()
                }
            ),
        }
    ),
    "description": "Only the fields sent change; null resets a field to its default.",
}

SCHEMAS["AuditEvent"] = _object(
    {
        "id": {"type": "integer"},
        "tenant": {**NULLABLE_STRING, "description": "The tenant's slug; null: the installation."},
        "occurred_at": TIME,
        "actor": {**STRING, "description": "`api-key:<id>`, `client:<client_id>`, ..."},
        "action": {**STRING, "description": "`<target>.<verb>`, e.g. `client.create`."},
        "target_type": NULLABLE_STRING,
        "target_id": NULLABLE_STRING,
        "outcome": {"enum": ["success", "denied", "failed"]},
        "client_ip": NULLABLE_STRING,
        "request_id": NULLABLE_STRING,
        "details": {"type": "object", "description": "Never holds secrets or field values."},
    },
    ["id", "tenant", "occurred_at", "actor", "action", "outcome", "details"],
)
COUNTS = {
    "tokens_issued": {"type": "integer", "minimum": 0},
    "failures": {
        "type": "integer",
        "minimum": 0,
        "description": "Failed client authentications and error answers of the token, "
        "introspection and revocation endpoints.",
    },
    "sign_ins": {"type": "integer", "minimum": 0},
    "federated_sign_ins": {
        "type": "integer",
        "minimum": 0,
        "description": "Sign-ins through an upstream provider (also counted in sign_ins).",
    },
    "federated_signups": {
        "type": "integer",
        "minimum": 0,
        "description": "Accounts created at their first sign-in through an upstream provider.",
    },
    "identity_links": {"type": "integer", "minimum": 0},
    "identity_unlinks": {"type": "integer", "minimum": 0},
    "federation_failures": {
        "type": "integer",
        "minimum": 0,
        "description": "Round trips through an upstream provider that ended without a sign-in: "
        "cancelled, an upstream failure, or refused by the linking rules.",
    },
}
ACTIVE_USERS = {
    "type": ["integer", "null"],
    "minimum": 0,
    "description": "Distinct users who signed in; null when filtered to one client.",
}
DAY = {"type": "string", "format": "date"}
COUNT_NAMES = list(COUNTS)
SCHEMAS["Usage"] = _object(
    {
        "from": DAY,
        "to": DAY,
        "client_id": NULLABLE_STRING,
        "totals": _object({**COUNTS, "active_users": ACTIVE_USERS}, [*COUNT_NAMES, "active_users"]),
        "days": {
            "type": "array",
            "description": "Every day of the range, oldest first.",
            "items": _object(
                {"day": DAY, **COUNTS, "active_users": ACTIVE_USERS},
                ["day", *COUNT_NAMES, "active_users"],
            ),
        },
        "clients": {
            "type": "array",
            "description": "Per client over the range; client_id null: no client was known.",
            "items": _object({"client_id": NULLABLE_STRING, **COUNTS}, ["client_id", *COUNT_NAMES]),
        },
        "rows": {
            "type": "array",
            "description": "Per day and client, only where something was counted.",
            "items": _object(
                {"day": DAY, "client_id": NULLABLE_STRING, **COUNTS},
                ["day", "client_id", *COUNT_NAMES],
            ),
        },
    },
    ["from", "to", "client_id", "totals", "days", "clients", "rows"],
)

SCHEMAS["InitialAccessToken"] = _object(
    {
        "id": STRING,
        "name": NULLABLE_STRING,
        "hint": {**STRING, "description": "`idp_iat_…` and the token's last four characters."},
        "expires_at": NULLABLE_TIME,
        "max_uses": {"type": ["integer", "null"], "minimum": 1},
        "uses": {"type": "integer", "minimum": 0},
        "created_by": NULLABLE_STRING,
        "created_at": TIME,
    },
    ["id", "name", "hint", "expires_at", "max_uses", "uses", "created_at"],
)
SCHEMAS["IssuedInitialAccessToken"] = {
    "allOf": [_ref("InitialAccessToken"), _object({"token": STRING}, ["token"])]
}
SCHEMAS["InitialAccessTokenCreate"] = _closed(
    {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "expires_at": {**NULLABLE_TIME, "description": "Default: never."},
        "max_uses": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1_000_000,
            "description": "Registrations it allows; default unlimited.",
        },
    }
)

for _name in (
    "Tenant",
    "ApiKey",
    "Client",
    "User",
    "Role",
    "TeamMember",
    "Provider",
    "AuditEvent",
    "InitialAccessToken",
):
    SCHEMAS[f"{_name}List"] = _list_of(_name)


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _ref("Problem")}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


COMMON = {
    "400": _problem("Malformed request"),
    "401": _problem("Missing or invalid credentials"),
    "403": _problem("The credentials lack the scope this call needs"),
    "404": _problem("No such resource, or not visible to these credentials"),
    "429": {
        **_problem("Rate limit reached (per API key and per client IP); wait Retry-After seconds"),
        "headers": {"Retry-After": {"$ref": "#/components/headers/Retry-After"}},
    },
}


def _operation(
    summary: str,
    scope: str,
    responses: dict[str, Any],
    body: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "description": f"Requires the `{scope}` scope.",
        "security": [{"bearer": [scope]}],
        "responses": {**COMMON, **responses},
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
        operation["responses"].setdefault("415", _problem("The body is not JSON"))
        operation["responses"].setdefault("422", _problem("Invalid or unknown fields"))
    if parameters:
        operation["parameters"] = parameters
    return operation


def _optional_body(operation: dict[str, Any]) -> dict[str, Any]:
    operation["requestBody"]["required"] = False
    return operation


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": STRING}


def _query(name: str, description: str, schema: dict[str, Any] = STRING) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


PAGING = [
    _query(
        "limit",
        "Items per page (1-200, default 50).",
        {"type": "integer", "minimum": 1, "maximum": 200},
    ),
    _query("cursor", "The `next_cursor` of the previous page."),
]
NO_CONTENT = {"204": {"description": "Done"}}
SLUG = [_path_param("slug")]


AUDIT_FILTERS = [
    *PAGING,
    _query("action", "Exact action, or a prefix ending in `.*` (`client.*`)."),
    _query("actor", "Exact actor, e.g. `api-key:<id>` or `operator (command line)`."),
    _query("target_id", "Exact id of the object acted on."),
    _query("since", "Events at or after this time (ISO 8601 with offset).", TIME),
    _query("until", "Events before this time (ISO 8601 with offset).", TIME),
]


def _audit_and_usage_paths(tenant: str) -> dict[str, Any]:
    audit_note = (
        " Newest first. Every management write (API and `idp` command) and security event: "
        "failed client authentications, the failure limit tripping, signing key rotation."
    )
    bad_range = _problem("`until` is not later than `since`")
    installation = _operation(
        "Read the whole installation's audit log (platform keys only)",
        "audit:read",
        {"200": _json("Events", "AuditEventList"), "422": bad_range},
        parameters=[*AUDIT_FILTERS, _query("tenant", "Only this tenant's events (its slug).")],
    )
    tenant_log = _operation(
        "Read a tenant's audit log",
        "audit:read",
        {"200": _json("Events", "AuditEventList"), "422": bad_range},
        parameters=AUDIT_FILTERS,
    )
    usage = _operation(
        "Usage: tokens issued, failures, sign-ins and active users per day and client",
        "usage:read",
        {"200": _json("Usage", "Usage"), "422": _problem("Invalid range or date")},
        parameters=[
            _query("from", "First UTC day (YYYY-MM-DD); default 29 days before `to`.", DAY),
            _query("to", "Last UTC day, included (YYYY-MM-DD); default today.", DAY),
            _query("client_id", "Only this client."),
        ],
    )
    usage["description"] += (
        " Ranges cover at most 366 days. Counts are written by each server process every "
        "`usage.flush_seconds` (default 10), so the newest seconds may not show yet."
    )
    installation["description"] += audit_note
    tenant_log["description"] += audit_note
    return {
        "/audit-events": {"get": installation},
        f"{tenant}/audit-events": {"parameters": SLUG, "get": tenant_log},
        f"{tenant}/usage": {"parameters": SLUG, "get": usage},
    }


def _platform_key_paths() -> dict[str, Any]:
    """Platform keys reach every tenant; they are made only with `idp api-keys create`."""
    refused = {"403": _problem("Not a platform key, or the key lacks the scope this call needs")}
    listing = _operation(
        "List platform API keys, revoked ones included (platform keys only)",
        "keys:read",
        {"200": _json("Keys; never the secret", "ApiKeyList"), **refused},
    )
    one = _operation(
        "Get a platform API key (platform keys only)",
        "keys:read",
        {"200": _json("The key", "ApiKey"), **refused},
    )
    revoke = _operation(
        "Revoke a platform API key (platform keys only)",
        "keys:write",
        {**NO_CONTENT, **refused},
    )
    revoke["description"] += (
        " Takes effect at once on every instance: the key's next call is answered 401. A key "
        "may revoke itself. Revoking a revoked key again changes nothing. Audited as "
        "`api_key.revoke` in the installation's log (`/audit-events`)."
    )
    return {
        "/platform/api-keys": {"get": listing},
        "/platform/api-keys/{key_id}": {
            "parameters": [_path_param("key_id")],
            "get": one,
            "delete": revoke,
        },
    }


OPERATIONS = ("get", "post", "patch", "delete")
HEADERS = {
    "ETag": {
        "description": "Strong entity tag of the resource's representation: send it back as "
        "If-Match to change or delete exactly what you read.",
        "schema": STRING,
    },
    "Retry-After": {
        "description": "Seconds to wait before the next request.",
        "schema": {"type": "integer", "minimum": 1},
    },
}
IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "schema": STRING,
    "description": (
        "The ETag you read (RFC 9110 §13.1.1, strong comparison), or `*` for any existing "
        "version. Required on PATCH: a PATCH replaces whole lists (redirect URIs, roles, "
        "sign-in methods), so it is built from what you read, and without the ETag a change "
        "someone made meanwhile would be silently lost. A script that means to overwrite sends "
        "`If-Match: *`. Optional on DELETE, which names what it removes."
    ),
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
    "description": (
        "A unique value per intended request (e.g. a UUID), as in "
        "draft-ietf-httpapi-idempotency-key-header. A retry with the same key and body within "
        "24 hours gets the first response again (status, body, Location), including a secret "
        "shown once, and creates nothing; keys are private to your credentials."
    ),
}


def openapi_document(server_url: str) -> dict[str, Any]:
    """The document, with what all operations share: ETags, If-Match, Idempotency-Key, 429."""
    document = _document(server_url)
    document["components"]["headers"] = HEADERS
    for item in document["paths"].values():
        conditional = "patch" in item or "delete" in item
        for method in OPERATIONS:
            if method in item:
                _shared_semantics(method, item[method], conditional)
    return document


def _shared_semantics(method: str, operation: dict[str, Any], conditional: bool) -> None:
    """Document the mechanisms of `preconditions.py`, `idempotency.py` and `limits.py`.

    `conditional`: the path is one resource (it can be changed or deleted). A POST answering
    200 rather than 201 changes an existing resource (secret rotation), so it honours If-Match.
    """
    responses = operation["responses"]
    parameters = operation.setdefault("parameters", [])
    changes_one = method in ("patch", "delete") or (method == "post" and "200" in responses)
    if method == "post":
        parameters.append(IDEMPOTENCY_KEY)
        _add(responses, "409", "A request with this Idempotency-Key is still in progress")
        _add(responses, "422", "The Idempotency-Key was used for a different request")
    if changes_one:
        parameters.append({**IF_MATCH, "required": method == "patch"})
        responses["412"] = _problem("If-Match does not match the resource's current ETag")
        _add(responses, "409", "Another change to this resource took too long; retry")
    if method == "patch":
        responses["428"] = _problem("If-Match is missing (send the ETag, or `*`)")
    for status in ("200", "201"):
        shown = responses.get(status, {})
        if "content" in shown and (conditional or changes_one or status == "201"):
            etag = {"ETag": {"$ref": "#/components/headers/ETag"}}
            responses[status] = {**shown, "headers": etag}


def _add(responses: dict[str, Any], status: str, description: str) -> None:
    if status in responses:
        description = f"{responses[status]['description']}; or: {description}"
    responses[status] = _problem(description)


def _document(server_url: str) -> dict[str, Any]:
    tenant = "/tenants/{slug}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "idp management API",
            "version": "1",
            "description": (
                "Manage tenants, client applications, users and API keys. Authenticate with "
                "`Authorization: Bearer idp_ak_...` (an API key) or with an access token from a "
                "tenant's own token endpoint (client credentials) carrying the scopes below. "
                "Errors are RFC 9457 problem documents. A resource of a tenant your credentials "
                "cannot reach is answered 404. Every response with one resource carries its "
                "`ETag`; PATCH requires it back as `If-Match` (412 when it no longer matches, 428 "
                "when missing; `If-Match: *` overwrites deliberately), DELETE honours it. Every "
                "POST honours `Idempotency-Key`, so a retried create never creates twice. "
                "Requests are rate limited per API key and per client IP (429 with Retry-After)."
            ),
        },
        "servers": [{"url": f"{server_url}/api/v1"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            **_audit_and_usage_paths(tenant),
            **_platform_key_paths(),
            "/tenants": {
                "get": _operation(
                    "List tenants",
                    "tenants:read",
                    {"200": _json("Tenants", "TenantList")},
                    parameters=PAGING,
                ),
                "post": _operation(
                    "Create a tenant (platform keys only)",
                    "tenants:write",
                    {"201": _json("Created", "Tenant"), "409": _problem("The slug is taken")},
                    body="TenantCreate",
                ),
            },
            tenant: {
                "parameters": SLUG,
                "get": _operation(
                    "Get a tenant", "tenants:read", {"200": _json("The tenant", "Tenant")}
                ),
                "patch": _operation(
                    "Update a tenant",
                    "tenants:write",
                    {"200": _json("Updated", "Tenant")},
                    body="TenantUpdate",
                ),
                "delete": _operation(
                    "Delete a tenant and all it owns (platform keys only)",
                    "tenants:write",
                    NO_CONTENT,
                ),
            },
            f"{tenant}/settings": {
                "parameters": SLUG,
                "get": _operation(
                    "Get the tenant's branding and policies",
                    "tenants:read",
                    {"200": _json("The settings, defaults filled in", "TenantSettings")},
                ),
                "patch": _operation(
                    "Change branding or policies (null resets a field to its default)",
                    "tenants:write",
                    {"200": _json("Updated", "TenantSettings")},
                    body="TenantSettingsUpdate",
                ),
            },
            f"{tenant}/api-keys": {
                "parameters": SLUG,
                "get": _operation(
                    "List API keys", "keys:read", {"200": _json("Keys", "ApiKeyList")}
                ),
                "post": _operation(
                    "Create an API key (shown once; never wider than the caller's)",
                    "keys:write",
                    {"201": _json("Created; `key` is shown only now", "IssuedApiKey")},
                    body="ApiKeyCreate",
                ),
            },
            f"{tenant}/api-keys/{{key_id}}": {
                "parameters": [*SLUG, _path_param("key_id")],
                "get": _operation(
                    "Get an API key", "keys:read", {"200": _json("The key", "ApiKey")}
                ),
                "delete": _operation("Revoke an API key", "keys:write", NO_CONTENT),
            },
            f"{tenant}/initial-access-tokens": {
                "parameters": SLUG,
                "get": _operation(
                    "List initial access tokens for dynamic client registration",
                    "clients:read",
                    {"200": _json("Tokens", "InitialAccessTokenList")},
                ),
                "post": _operation(
                    "Create an initial access token (RFC 7591 §3; the token is shown only now)",
                    "clients:write",
                    {
                        "201": _json(
                            "Created; `token` is shown only now", "IssuedInitialAccessToken"
                        )
                    },
                    body="InitialAccessTokenCreate",
                ),
            },
            f"{tenant}/initial-access-tokens/{{token_id}}": {
                "parameters": [*SLUG, _path_param("token_id")],
                "get": _operation(
                    "Get an initial access token",
                    "clients:read",
                    {"200": _json("The token", "InitialAccessToken")},
                ),
                "delete": _operation(
                    "Delete an initial access token (clients it registered stay)",
                    "clients:write",
                    NO_CONTENT,
                ),
            },
            f"{tenant}/clients": {
                "parameters": SLUG,
                "get": _operation(
                    "List clients",
                    "clients:read",
                    {"200": _json("Clients", "ClientList")},
                    parameters=PAGING,
                ),
                "post": _operation(
                    "Register a client (the secret is shown only now)",
                    "clients:write",
                    {"201": _json("Created", "IssuedClient")},
                    body="ClientCreate",
                ),
            },
            f"{tenant}/clients/{{client_id}}": {
                "parameters": [*SLUG, _path_param("client_id")],
                "get": _operation(
                    "Get a client", "clients:read", {"200": _json("The client", "Client")}
                ),
                "patch": _operation(
                    "Update a client",
                    "clients:write",
                    {"200": _json("Updated", "Client")},
                    body="ClientUpdate",
                ),
                "delete": _operation("Delete a client", "clients:write", NO_CONTENT),
            },
            f"{tenant}/clients/{{client_id}}/secret": {
                "parameters": [*SLUG, _path_param("client_id")],
                "post": _optional_body(
                    _operation(
                        "Rotate the client secret (the new one is shown only now); with "
                        "`old_secret_expires_at` (at most 30 days ahead) the old secret keeps "
                        "working until then, so running instances can switch without an outage",
                        "clients:write",
                        {
                            "200": _json("The client with its new secret", "IssuedClient"),
                            "422": _problem("The client has no secret, or a bad overlap time"),
                        },
                        body="ClientSecretRotation",
                    )
                ),
            },
            f"{tenant}/users": {
                "parameters": SLUG,
                "get": _operation(
                    "List or search users",
                    "users:read",
                    {"200": _json("Users", "UserList"), "422": _problem("Invalid e-mail filter")},
                    parameters=[
                        *PAGING,
                        _query("email", "Exact e-mail address."),
                        _query("q", "Text contained in the e-mail or name."),
                        _query(
                            "active",
                            "Only active (true) or inactive (false) users.",
                            {"enum": ["true", "false"]},
                        ),
                    ],
                ),
                "post": _operation(
                    "Create a user",
                    "users:write",
                    {"201": _json("Created", "User"), "409": _problem("The e-mail is taken")},
                    body="UserCreate",
                ),
            },
            f"{tenant}/roles": {
                "parameters": SLUG,
                "get": _operation("List roles", "users:read", {"200": _json("Roles", "RoleList")}),
                "post": _operation(
                    "Create a role",
                    "users:write",
                    {"201": _json("Created", "Role"), "409": _problem("The name is taken")},
                    body="RoleCreate",
                ),
            },
            f"{tenant}/roles/{{role}}": {
                "parameters": [*SLUG, _path_param("role")],
                "get": _operation("Get a role", "users:read", {"200": _json("The role", "Role")}),
                "patch": _operation(
                    "Update a role",
                    "users:write",
                    {"200": _json("Updated", "Role")},
                    body="RoleUpdate",
                ),
                "delete": _operation(
                    "Delete a role (its members lose it)", "users:write", NO_CONTENT
                ),
            },
            f"{tenant}/team": {
                "parameters": SLUG,
                "get": _operation(
                    "List the team", "tenants:read", {"200": _json("Members", "TeamMemberList")}
                ),
                "post": _operation(
                    "Add a team member",
                    "tenants:write",
                    {"201": _json("Added", "TeamMember"), "409": _problem("Already a member")},
                    body="TeamMemberCreate",
                ),
            },
            f"{tenant}/team/{{member_id}}": {
                "parameters": [*SLUG, _path_param("member_id")],
                "get": _operation(
                    "Get a team member", "tenants:read", {"200": _json("The member", "TeamMember")}
                ),
                "patch": _operation(
                    "Change a member's role",
                    "tenants:write",
                    {"200": _json("Updated", "TeamMember"), "409": _problem("The last owner")},
                    body="TeamMemberUpdate",
                ),
                "delete": _operation(
                    "Remove a team member",
                    "tenants:write",
                    {**NO_CONTENT, "409": _problem("The last owner")},
                ),
            },
            f"{tenant}/providers": {
                "parameters": SLUG,
                "get": _operation(
                    "List upstream providers",
                    "tenants:read",
                    {"200": _json("Providers", "ProviderList")},
                ),
                "post": _operation(
                    "Configure an upstream provider (the secret is write-only)",
                    "tenants:write",
                    {"201": _json("Created", "Provider"), "409": _problem("The slug is taken")},
                    body="ProviderCreate",
                ),
            },
            f"{tenant}/providers/{{provider}}": {
                "parameters": [*SLUG, _path_param("provider")],
                "get": _operation(
                    "Get an upstream provider",
                    "tenants:read",
                    {"200": _json("The provider", "Provider")},
                ),
                "patch": _operation(
                    "Update an upstream provider",
                    "tenants:write",
                    {"200": _json("Updated", "Provider")},
                    body="ProviderUpdate",
                ),
                "delete": _operation("Delete an upstream provider", "tenants:write", NO_CONTENT),
            },
            f"{tenant}/users/{{user_id}}/sessions": {
                "parameters": [*SLUG, _path_param("user_id")],
                "delete": _operation(
                    "Sign the user out everywhere: end every session, revoke every access token",
                    "users:write",
                    NO_CONTENT,
                ),
            },
            f"{tenant}/users/{{user_id}}/lockout": {
                "parameters": [*SLUG, _path_param("user_id")],
                "get": _operation(
                    "The user's sign-in lockout: failures counted and the end of the wait",
                    "users:read",
                    {"200": _json("The lockout state", "Lockout")},
                ),
            },
            f"{tenant}/users/{{user_id}}/unlock": {
                "parameters": [*SLUG, _path_param("user_id")],
                "post": _operation(
                    "Lift the user's sign-in wait and forget their failures (audited)",
                    "users:write",
                    NO_CONTENT,
                ),
            },
            f"{tenant}/users/{{user_id}}/factors": {
                "parameters": [*SLUG, _path_param("user_id")],
                "get": _operation(
                    "List the user's second factors (TOTP, recovery codes, passkeys); "
                    "never a secret",
                    "users:read",
                    {"200": _json("The factors", "FactorList")},
                ),
                "delete": _operation(
                    "Reset MFA: remove every second factor of the user",
                    "users:write",
                    NO_CONTENT,
                ),
            },
            f"{tenant}/users/{{user_id}}/factors/{{factor_type}}": {
                "parameters": [
                    *SLUG,
                    _path_param("user_id"),
                    {
                        "name": "factor_type",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": list(FACTOR_TYPES)},
                        "description": "`totp` (its recovery codes go with it), "
                        "`recovery_codes`, or `passkey` (every passkey of the user).",
                    },
                ],
                "delete": _operation(
                    "Remove one of the user's second factors", "users:write", NO_CONTENT
                ),
            },
            f"{tenant}/users/{{user_id}}/factors/passkey/{{passkey_id}}": {
                "parameters": [
                    *SLUG,
                    _path_param("user_id"),
                    {
                        "name": "passkey_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                "delete": _operation("Remove one passkey of the user", "users:write", NO_CONTENT),
            },
            f"{tenant}/users/{{user_id}}/identities": {
                "parameters": [*SLUG, _path_param("user_id")],
                "get": _operation(
                    "List the user's identities at upstream providers (Google, GitHub, OpenID)",
                    "users:read",
                    {"200": _json("The identities", "IdentityList")},
                ),
            },
            f"{tenant}/users/{{user_id}}/identities/{{identity_id}}": {
                "parameters": [
                    *SLUG,
                    _path_param("user_id"),
                    {
                        "name": "identity_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer"},
                    },
                ],
                "delete": _operation(
                    "Unlink one upstream identity of the user; 409 when it is their last way "
                    "to sign in",
                    "users:write",
                    {**NO_CONTENT, "409": _problem("The user's last way to sign in")},
                ),
            },
            f"{tenant}/users/{{user_id}}/password-reset": {
                "parameters": [*SLUG, _path_param("user_id")],
                "post": _operation(
                    "Mail the user a password reset link (valid 30 minutes, single use)",
                    "users:write",
                    {"202": _json("The mail is queued", "PasswordResetSent")},
                ),
            },
            f"{tenant}/users/{{user_id}}": {
                "parameters": [*SLUG, _path_param("user_id")],
                "get": _operation("Get a user", "users:read", {"200": _json("The user", "User")}),
                "patch": _operation(
                    "Update, activate or deactivate a user",
                    "users:write",
                    {"200": _json("Updated", "User")},
                    body="UserUpdate",
                ),
                "delete": _operation("Delete a user", "users:write", NO_CONTENT),
            },
        },
    }
