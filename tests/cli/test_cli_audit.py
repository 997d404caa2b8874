"""Every write of the `idp` command is in the audit log as the operator's, without secrets."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from idp.models.audit import AuditEvent
from idp.models.db import make_engine, make_session_factory
from idp.models.uow import UnitOfWork
from idp.services.audit import AuditEventView, AuditFilter, page_events
from tests.support.cli import Installation

PASSWORD = "operator-chosen password 7"


@pytest.fixture
def audit_log(install: Installation) -> Iterator[UnitOfWork]:
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    yield UnitOfWork(make_session_factory(engine))
    engine.dispose()


def installation_events(uow: UnitOfWork, **filters: str) -> list[AuditEventView]:
    return list(page_events(uow, None, True, AuditFilter(**filters), None, 200).items)


def test_each_write_command_is_recorded_as_the_operators(
    install: Installation, audit_log: UnitOfWork
) -> None:
    slug = f"ops-{secrets.token_hex(3)}"
    install.json("tenants", "create", "--slug", slug, "--name", "Ops")
    client = install.json("clients", "create", "--tenant", slug, "--name", "Batch")
    client_id = client["client_id"]
    rotated = install.json("clients", "rotate-secret", "--tenant", slug, client_id)
    user = install.json(
        "users", "create", "--tenant", slug, "--email", "ops@example.com", "--password", "-",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    install.json("users", "set-password", "--tenant", slug, "ops@example.com", "--password", "-",
                 stdin=PASSWORD + "!\n")  # fmt: skip
    install.json("users", "deactivate", "--tenant", slug, "ops@example.com")
    install.json("users", "activate", "--tenant", slug, "ops@example.com")
    rotated_keys = install.json("keys", "rotate", "--tenant", slug, "--alg", "ES256")
    key = install.json("api-keys", "create", "--tenant", slug, "--name", "ci")
    install.json("api-keys", "revoke", "--tenant", slug, key["id"])
    platform = install.json("api-keys", "create", "--platform", "--name", "root")
    install.json("clients", "delete", "--tenant", slug, client_id)

    tenant_events = [e for e in installation_events(audit_log) if e.tenant == slug]
    assert [(e.action, e.target_id) for e in tenant_events] == [
        ("client.delete", client_id),
        ("api_key.revoke", key["id"]),
        ("api_key.create", key["id"]),
        ("signing_key.rotate", slug),
        ("user.activate", user["sub"]),
        ("user.deactivate", user["sub"]),
        ("user.set_password", user["sub"]),
        ("user.create", user["sub"]),
        ("client.rotate_secret", client_id),
        ("client.create", client_id),
    ]
    assert {(e.actor, e.outcome, e.client_ip) for e in tenant_events} == {
        ("operator (command line)", "success", None)
    }
    assert tenant_events[3].details["kids"] == [k["kid"] for k in rotated_keys]
    assert tenant_events[0].details["command"] == "idp clients delete"

    (created,) = installation_events(audit_log, action="tenant.create", target_id=slug)
    assert created.tenant is None  # tenants are installation objects
    (platform_key,) = installation_events(audit_log, target_id=platform["id"])
    assert (platform_key.action, platform_key.tenant) == ("api_key.create", None)

    issued = [client["client_secret"], rotated["client_secret"], key["key"], platform["key"]]
    forbidden = [PASSWORD, PASSWORD + "!", *issued]
    forbidden += [hashlib.sha256(s.encode()).hexdigest() for s in issued]
    with audit_log as uow:
        rows = uow.session.scalars(select(AuditEvent)).all()
        stored = [
            json.dumps({c.name: str(getattr(row, c.name)) for c in AuditEvent.__table__.c})
            for row in rows
        ]
    for row in stored:
        for secret in forbidden:
            assert secret not in row


def test_a_refused_command_writes_nothing(install: Installation, audit_log: UnitOfWork) -> None:
    before = len(installation_events(audit_log))
    result = install.run("clients", "delete", "--tenant", "no-such-tenant", "abc")
    assert result.code == 1
    assert len(installation_events(audit_log)) == before
