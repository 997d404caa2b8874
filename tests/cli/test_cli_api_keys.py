"""`idp api-keys` (issues 4, 8): the one way to make a platform key, and to list and revoke one
without the API, in the exact form scripts use."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import text

from idp.models.db import make_engine, make_session_factory
from idp.models.uow import UnitOfWork
from idp.services.audit import AuditFilter, page_events
from tests.support.cli import Installation

SHOWN = {"id", "name", "scopes", "platform", "hint", "created_at", "last_used_at", "revoked_at"}


def database_rows(install: Installation, query: str, **params: Any) -> list[Any]:
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    with engine.connect() as connection:
        rows = list(connection.execute(text(query), params))
    engine.dispose()
    return rows


def revocations_of(install: Installation, key_id: str) -> list[Any]:
    """The installation-wide audit events of `api_key.revoke` for one key, newest first."""
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    uow = UnitOfWork(make_session_factory(engine))
    wanted = AuditFilter(action="api_key.revoke", target_id=key_id)
    events = list(page_events(uow, None, True, wanted, None, 200).items)
    engine.dispose()
    return events


def test_platform_and_tenant_keys_print_the_key_once(install: Installation, tenant: str) -> None:
    platform = install.json("api-keys", "create", "--platform", "--name", "root")
    assert platform["key"].startswith("idp_ak_") and platform["platform"] is True
    assert platform["hint"].endswith(platform["key"][-4:])
    narrow = install.json(
        "api-keys",
        "create",
        "--tenant",
        tenant,
        "--name",
        "ci",
        "--scopes",
        "users:read clients:read",
    )
    assert narrow["platform"] is False and narrow["scopes"] == ["clients:read", "users:read"]
    listed = install.json("api-keys", "list", "--tenant", tenant)
    assert narrow["key"] not in str(listed)
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    with engine.connect() as connection:
        digests = set(connection.execute(text("SELECT digest FROM api_keys")).scalars())
    engine.dispose()
    assert hashlib.sha256(platform["key"].encode()).hexdigest() in digests


@pytest.mark.parametrize(
    "arguments",
    [
        ("--name", "both", "--platform", "--tenant", "x"),
        ("--name", "neither"),
        ("--platform", "--name", "bad", "--scopes", "root:everything"),
    ],
)
def test_wrong_forms_are_one_line_errors(install: Installation, arguments: tuple[str, ...]) -> None:
    result = install.run("api-keys", "create", *arguments, "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_platform_keys_are_listed_without_their_secret(install: Installation, tenant: str) -> None:
    root = install.json(
        "api-keys", "create", "--platform", "--name", "root", "--scopes", "audit:read"
    )
    tenant_key = install.json("api-keys", "create", "--tenant", tenant, "--name", "ci")
    listed = install.run("api-keys", "list", "--platform", "--json")
    assert listed.code == 0, listed.stderr
    by_id = {key["id"]: key for key in json.loads(listed.stdout)}
    assert tenant_key["id"] not in by_id  # a tenant's key is not a platform key
    shown = by_id[root["id"]]
    assert set(shown) >= SHOWN and shown["platform"] is True
    assert (shown["name"], shown["scopes"], shown["revoked_at"]) == ("root", ["audit:read"], None)
    assert shown["hint"] == f"idp_ak_…{root['key'][-4:]}"
    assert shown["created_at"] == root["created_at"]
    (digest,) = database_rows(
        install, "SELECT digest FROM api_keys WHERE key_id = :id", id=root["id"]
    )[0]
    human = install.run("api-keys", "list", "--platform")
    (block,) = [b for b in human.stdout.split("\n\n") if f"id: {root['id']}\n" in b]
    assert "name: root\n" in block and "scopes: audit:read\n" in block
    assert "last_used_at: \n" in block and "revoked_at: \n" in block
    for output in (listed.stdout, human.stdout):
        assert root["key"] not in output and digest not in output


def test_revoking_a_platform_key_records_it_and_is_audited(install: Installation) -> None:
    root = install.json("api-keys", "create", "--platform", "--name", "leaked")
    revoked = install.json("api-keys", "revoke", "--platform", root["id"])
    assert revoked["id"] == root["id"] and revoked["revoked_at"] is not None
    assert root["key"] not in json.dumps(revoked)
    (stored,) = database_rows(
        install, "SELECT revoked_at FROM api_keys WHERE key_id = :id", id=root["id"]
    )
    assert stored.revoked_at is not None
    listed = {key["id"]: key for key in install.json("api-keys", "list", "--platform")}
    assert listed[root["id"]]["revoked_at"] == revoked["revoked_at"]

    again = install.json("api-keys", "revoke", "--platform", root["id"])
    assert again["revoked_at"] == revoked["revoked_at"]  # the first instant stands

    events = revocations_of(install, root["id"])
    assert len(events) == 2
    for event in events:
        assert (event.tenant, event.actor, event.outcome) == (
            None,
            "operator (command line)",
            "success",
        )
        assert event.details["platform"] is True
        assert event.details["command"] == "idp api-keys revoke"


@pytest.mark.parametrize(
    "arguments",
    [
        ("revoke", "--platform", "no-such-key"),
        ("revoke", "no-such-key"),
        ("list",),
        ("list", "--platform", "--tenant", "x"),
    ],
)
def test_wrong_list_and_revoke_forms_are_one_line_errors(
    install: Installation, arguments: tuple[str, ...]
) -> None:
    result = install.run("api-keys", *arguments, "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")


def test_revoke_platform_does_not_reach_a_tenants_key(install: Installation, tenant: str) -> None:
    """`--platform` names platform keys only: a tenant key's id is unknown there."""
    tenant_key = install.json("api-keys", "create", "--tenant", tenant, "--name", "ci")
    result = install.run("api-keys", "revoke", "--platform", tenant_key["id"])
    assert result.code == 1
    assert result.stderr == f"error: no platform API key '{tenant_key['id']}'\n"
    listed = {key["id"]: key for key in install.json("api-keys", "list", "--tenant", tenant)}
    assert listed[tenant_key["id"]]["revoked_at"] is None
    assert revocations_of(install, tenant_key["id"]) == []
