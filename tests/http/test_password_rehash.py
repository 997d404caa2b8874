"""The shipped argon2id cost (issue 8, DESIGN §6) reaches hashes made before it: a person whose
hash carries the old parameters signs in on the hosted login page and leaves a hash with the new
ones; a failed sign-in leaves the old hash exactly as it was.

This instance runs with the shipped parameters, not the cheap ones of the other tests, so the
assertions name the real defaults (`PasswordSettings()`, which config.toml must match)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
import requests

from idp.crypto.passwords import Passwords
from idp.services.container import build_services
from idp.settings import PasswordSettings
from tests.conftest import settings_for_tests
from tests.support.browser import PASSWORD, Browser
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.server import LiveServer, start_server

# What config.toml shipped before issue 8: ~175 ms per verification on one core here.
OLD = PasswordSettings(time_cost=3, memory_kib=65536, parallelism=1)
SHIPPED = PasswordSettings()


def parameters(stored_hash: str) -> str:
    """The `m=...,t=...,p=...` field of a PHC-format argon2id hash."""
    algorithm, version, cost, _salt, _digest = stored_hash.split("$")[1:]
    assert (algorithm, version) == ("argon2id", "v=19")
    return cost


@pytest.fixture(scope="module")
def shipped_cost(server, backend, tmp_path_factory) -> Iterator[LiveServer]:
    """An instance of the same installation hashing passwords at the shipped cost."""
    port = free_port()
    settings = settings_for_tests(
        backend, tmp_path_factory.mktemp("shipped-cost"), f"http://127.0.0.1:{port}"
    ).replace(
        keys={"kek_file": server.services.settings.keys.kek_file},
        passwords=dataclasses.asdict(SHIPPED),
    )
    instance = start_server(build_services(settings), port)
    yield instance
    instance.stop()
    instance.services.close()


def stored_hash(make: Factory, tenant_id: int, email: str) -> str:
    with make.services.uow() as uow:
        return str(uow.users.by_email(tenant_id, email).password_hash)


def test_shipped_parameters_are_owasps_first_argon2id_setting() -> None:
    """OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB, t=2, p=1."""
    assert (SHIPPED.memory_kib, SHIPPED.time_cost, SHIPPED.parallelism) == (19456, 2, 1)


def test_an_old_hash_is_upgraded_at_the_next_sign_in_and_not_by_a_failed_one(
    shipped_cost: LiveServer, make: Factory, module_tenant, http: requests.Session
) -> None:
    person = make.user(module_tenant, password=PASSWORD)
    old_hash = Passwords(OLD.time_cost, OLD.memory_kib, OLD.parallelism).hash(PASSWORD)
    with make.services.uow() as uow:
        uow.users.by_email(module_tenant.id, person.email).password_hash = old_hash
        uow.commit()
    assert parameters(old_hash) == "m=65536,t=3,p=1"
    browser = Browser(http, shipped_cost.issuer(module_tenant.slug))
    login = f"{browser.issuer}/login"

    refused = browser.sign_in(login, person.email, PASSWORD + " but wrong")
    assert refused.status_code == 401
    assert "idp_session_" not in refused.headers.get("Set-Cookie", "")
    assert stored_hash(make, module_tenant.id, person.email) == old_hash

    signed_in = browser.sign_in(login, person.email, PASSWORD)
    assert signed_in.status_code == 200  # no transaction: the "you are signed in" page
    assert f"idp_session_{module_tenant.slug}=" in signed_in.headers["Set-Cookie"]
    upgraded = stored_hash(make, module_tenant.id, person.email)
    assert parameters(upgraded) == "m=19456,t=2,p=1"
    assert shipped_cost.services.passwords.verify(upgraded, PASSWORD)

    # Once upgraded, a sign-in keeps the hash: it is rehashed only when the cost changes.
    again = Browser(requests.Session(), browser.issuer)
    assert again.sign_in(login, person.email, PASSWORD).status_code == 200
    assert stored_hash(make, module_tenant.id, person.email) == upgraded
