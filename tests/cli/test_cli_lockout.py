"""`idp users lockout` and `idp users unlock` (issue 10 §5): an operator sees a person's wait
and lifts it, through the real console script, on SQLite and PostgreSQL (the SQL store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.services.audit import AuditFilter, page_events
from idp.services.container import Services, build_services
from idp.services.tenancy.tenants import get_tenant
from idp.settings import load_settings
from tests.support.cli import Installation


@pytest.fixture
def services(install: Installation, tenant: str) -> Iterator[Services]:
    """The installation's own services in this process, to fail sign-ins as a stranger would."""
    settings = load_settings(install.directory / "config.toml", environ=install.environ)
    container = build_services(settings)
    yield container
    container.close()


def test_an_operator_sees_and_lifts_a_wait(install: Installation, tenant: str, services):
    email = "locked.out@example.com"
    user = install.json(
        "users", "create", "--tenant", tenant, "--email", email, "--password", "correct horse 42"
    )  # fmt: skip
    view = get_tenant(services.uow(), tenant)
    threshold = services.settings.rate_limits.login_failures_per_account
    for _ in range(threshold):
        services.lockout().record_failure(view, email, "192.0.2.7")
    assert services.lockout().blocked(view, email, "198.51.100.1")  # the account, any address

    shown = install.json("users", "lockout", "--tenant", tenant, "Locked.Out@example.com")
    assert (shown["email"], shown["failures"], shown["locked"]) == (email, threshold, True)
    unlocked = install.json("users", "unlock", "--tenant", tenant, email)
    assert unlocked["unlocked"] is True and unlocked["lifted"]["failures"] == threshold
    assert not services.lockout().blocked(view, email, "198.51.100.1")
    after = install.json("users", "lockout", "--tenant", tenant, email)
    assert (after["failures"], after["locked"], after["locked_until"]) == (0, False, None)

    events = page_events(services.uow(), view.id, False, AuditFilter(), None, 50).items
    actions = [(event.action, event.target_id) for event in events]
    assert ("user.unlocked", user["sub"]) in actions and ("user.locked", user["sub"]) in actions
    [unlock] = [event for event in events if event.action == "user.unlocked"]
    assert unlock.actor == "operator (command line)"
    assert unlock.details["lockout"]["failures"] == threshold
    [lock] = [event for event in events if event.action == "user.locked"]
    assert (lock.client_ip, lock.details["method"]) == ("192.0.2.7", "password")


def test_an_unknown_user_is_one_error_line(install: Installation, tenant: str):
    for command in ("unlock", "lockout"):
        result = install.run("users", command, "--tenant", tenant, "nobody@example.com")
        assert result.code == 1
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
