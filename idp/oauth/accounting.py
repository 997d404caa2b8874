"""What the protocol endpoints report: usage counts (in memory) and security audit events.

Counting is an in-memory increment (services.usage); only failed client authentications, which
an attacker drives and the failure limiter bounds, write an audit row during the request.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import g

from idp.context import client_ip, current_tenant, services
from idp.services.audit import DENIED, FAILED, AuditEntry, record_event

log = logging.getLogger(__name__)


def count_token_issued(oauth_request: Any) -> None:
    client = getattr(oauth_request, "client", None)
    if client is not None:
        services().usage.record_token_issued(current_tenant().id, client.client_id)


def count_failure(oauth_request: Any) -> None:
    """An error answer of the token, introspection or revocation endpoint."""
    client = getattr(oauth_request, "client", None)
    client_id = client.client_id if client is not None else _known_client_id()
    services().usage.record_failure(current_tenant().id, client_id)


def audit_client_auth_failure(endpoint: str, error: OAuth2Error, retry_after: int | None) -> None:
    """A failed client authentication, and the failure limit tripping if this did it."""
    named = _named_client_id()
    common = {
        "actor": "anonymous",  # nobody authenticated; the client named is only a claim
        "tenant_id": current_tenant().id,
        "target_type": "client",
        "target_id": named,
        "client_ip": client_ip(),
        "request_id": g.get("request_id"),
    }
    entries = [
        AuditEntry(
            action="client.authentication_failed",
            outcome=FAILED,
            details={
                "endpoint": endpoint,
                "error": error.error,
                "known_client": _known_client_id() is not None,
            },
            **common,
        )
    ]
    if retry_after:
        entries.append(
            AuditEntry(
                action="client.authentication_rate_limited",
                outcome=DENIED,
                details={"endpoint": endpoint, "retry_after": retry_after},
                **common,
            )
        )
    try:
        for entry in entries:
            record_event(services().uow(), entry)
    except Exception:  # the answer (401/429) must not turn into a 500 for want of a log row
        log.exception("audit event for a failed client authentication not recorded")


def _named_client_id() -> str | None:
    """The client id the request claimed: one query_client looked up (well-formed, short)."""
    looked_up = g.get("oauth_clients") or {}
    return next(iter(looked_up), None)


def _known_client_id() -> str | None:
    """The claimed client, if it exists in this tenant: failures of unknown ids are counted
    under no client, so made-up ids cannot grow the usage table."""
    looked_up = g.get("oauth_clients") or {}
    return next((client_id for client_id, client in looked_up.items() if client), None)
