"""Every write through the management API lands in the audit log, recorded in one place.

An `after_request` hook on the API blueprint sees each POST/PATCH/PUT/DELETE once its response
is known, derives the action and target from the endpoint and its URL arguments (or, for a
create, from the new object's id in the response), and records it. Views stay unaware of
auditing, and an endpoint added later is audited without anyone remembering to.

Only names of the fields sent are recorded, never their values: bodies carry passwords and
secrets, and responses of creates carry the one copy of a new secret.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, g, request

from idp.context import client_ip, services
from idp.http.api.blueprint import bp
from idp.services.audit import DENIED, FAILED, SUCCESS, AuditEntry, record_event

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where the derived `<target>.<verb>` reads badly; every other endpoint name is `<verb>_<target>`.
ACTIONS = {
    "rotate_client_secret": "client.rotate_secret",
    "change_team_role": "team_member.change_role",
    # One action for every key revoked, platform or tenant: the tenant (NULL) tells them apart.
    "revoke_platform_api_key": "api_key.revoke",
    "send_password_reset": "user.password_reset_requested",
    "unlock_user": "user.unlocked",
    "remove_user_factor": "user.factor_removed",
    "remove_user_passkey": "user.passkey_removed",
    "reset_user_mfa": "user.mfa_reset",
    "remove_user_identity": "user.identity_unlinked",
}
# The field of a create's response that identifies the new object (default "id").
CREATED_ID = {"client": "client_id", "tenant": "slug", "provider": "slug", "role": "name"}
# Tenants themselves are installation objects: creating or deleting one is filed under the
# installation (a deleted tenant's own log goes with it).
INSTALLATION_ACTIONS = frozenset({"tenant.create", "tenant.delete"})

log = logging.getLogger(__name__)


def action_of(endpoint: str) -> str:
    """`api.create_client` -> `client.create`, `api.revoke_api_key` -> `api_key.revoke`."""
    name = endpoint.removeprefix("api.")
    if name in ACTIONS:
        return ACTIONS[name]
    verb, _, target = name.partition("_")
    return f"{target}.{verb}" if target else name


@bp.after_request
def record_write(response: Response) -> Response:
    """Audit a write that reached a caller we know; never fail the response for it."""
    principal = g.get("principal")
    # Without credentials there is no actor to name and no tenant to file under; recording
    # anonymous attempts would let anyone make us write rows. Those are answered 401 unread.
    if request.method not in WRITES or request.endpoint is None or principal is None:
        return response
    if g.get("idempotent_replay"):  # a stored answer sent again: nothing was written this time
        return response
    # A replayed Idempotency-Key answer wrote nothing (the first request's event is the record),
    # and a 429 did no work: auditing either would let a caller make us write rows at will.
    if g.get("idempotent_replay") or response.status_code == 429:
        return response
    try:
        record_event(services().uow(), _entry(principal.label, principal.tenant_id, response))
    except Exception:  # the write itself is done; losing its audit row must be visible
        log.exception("audit event for %s %s not recorded", request.method, request.endpoint)
    return response


def _entry(actor: str, caller_tenant: int | None, response: Response) -> AuditEntry:
    action = action_of(request.endpoint or "")
    target_type = action.partition(".")[0]
    status = response.status_code
    reached = g.get("api_tenant")  # set once the caller was allowed to act on the tenant
    if status < 400:
        outcome = SUCCESS
        tenant_id = None if action in INSTALLATION_ACTIONS else getattr(reached, "id", None)
    else:
        outcome = DENIED if status in (403, 404) else FAILED
        # A refusal is the caller's business, filed under the caller's own tenant: a key of
        # tenant A probing tenant B shows up in A's log, never in B's.
        tenant_id = getattr(reached, "id", None) or caller_tenant
    details: dict[str, Any] = {"method": request.method, "path": request.path, "status": status}
    if outcome == SUCCESS:
        body = request.get_json(silent=True)
        if isinstance(body, dict):
            details["fields"] = sorted(body)
        # What the view knows and the URL does not (e.g. the lockout an unlock lifted).
        details.update(g.get("audit_details") or {})
    return AuditEntry(
        action=action,
        actor=actor,
        tenant_id=tenant_id,
        target_type=target_type,
        target_id=_target_id(target_type, response),
        outcome=outcome,
        client_ip=client_ip(),
        request_id=g.get("request_id"),
        details=details,
    )


def _target_id(target_type: str, response: Response) -> str | None:
    if request.method == "POST" and response.status_code == 201:
        created = response.get_json(silent=True)
        if isinstance(created, dict):
            value = created.get(CREATED_ID.get(target_type, "id"))
            return str(value) if value is not None else None
    # The object named last in the URL; a tenant's slug names only the tenant itself (a refused
    # create under /tenants/{slug}/clients has no target yet).
    # A user's sub-resource (`.../users/{user_id}/factors/totp`) is filed under the user.
    if target_type == "user" and "user_id" in (request.view_args or {}):
        return str((request.view_args or {})["user_id"])
    arguments = [
        value
        for name, value in (request.view_args or {}).items()
        if name != "slug" or target_type == "tenant"
    ]
    return str(arguments[-1]) if arguments else None
