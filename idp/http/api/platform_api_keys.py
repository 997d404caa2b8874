"""`/api/v1/platform/api-keys`: the installation's own keys, seen and revoked by platform keys.

A platform key reaches every tenant, so a leaked one must be revocable without touching the
database. Only a platform key may call these: a tenant key is answered 403 (it knows platform
keys exist, as the document says; it learns nothing about them). Keys are shown by id, name,
scopes, dates and the last four characters; never the secret or its digest. Revocations are
audited by `audit_trail` like every other write, under the installation (tenant NULL).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from idp.context import services
from idp.http.api.auth import require_platform
from idp.http.api.blueprint import bp
from idp.http.api.paging import single_page
from idp.http.api.preconditions import precondition, resource
from idp.services.management import api_keys as key_service

PLATFORM_ONLY = "Only a platform key can see or revoke platform keys."


@bp.get("/platform/api-keys")
def list_platform_api_keys() -> Response:
    require_platform("keys:read", PLATFORM_ONLY)
    keys = key_service.list_platform_api_keys(services().uow())
    return jsonify(single_page(key.public_dict() for key in keys))


@bp.get("/platform/api-keys/<key_id>")
def get_platform_api_key(key_id: str) -> Response:
    require_platform("keys:read", PLATFORM_ONLY)
    return resource(_current(key_id))


def _current(key_id: str) -> dict[str, Any]:
    return key_service.get_platform_api_key(services().uow(), key_id).public_dict()


@bp.delete("/platform/api-keys/<key_id>")
def revoke_platform_api_key(key_id: str) -> tuple[str, int]:
    require_platform("keys:write", PLATFORM_ONLY)
    with precondition(lambda: _current(key_id)):
        key_service.revoke_platform_api_key(services().uow(), key_id)
    return "", 204
