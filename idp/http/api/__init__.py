"""The management API under `/api/v1` (issue 4): REST + JSON, problem+json errors.

Importing the resource modules registers their views on the blueprint.
"""

from idp.http.api import (  # noqa: F401
    api_keys,
    audit,
    audit_trail,
    clients,
    docs,
    initial_access_tokens,
    platform_api_keys,
    providers,
    roles,
    team,
    tenant_settings,
    tenants,
    usage,
    users,
)
from idp.http.api.blueprint import bp

__all__ = ["bp"]
