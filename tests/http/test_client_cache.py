"""Workers cache clients (services/oauth_clients/client_cache.py), and a change made anywhere
else, by another worker, instance or the `idp` command, takes effect at once on every one of
them. Here the change is made through a second set of services on the same database and store,
as another process would, after the server has cached the client."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from idp.models.clients import Client
from idp.services.container import Services, build_services
from idp.services.oauth_clients import clients as client_service
from idp.services.oauth_clients.client_cache import (
    GENERATION_TRUSTED_FOR,
    ClientCache,
    clients_changed,
)


@pytest.fixture
def elsewhere(services: Services) -> Iterator[Services]:
    other = build_services(services.settings)
    yield other
    other.close()


def token(http, issuer: str, client_id: str, secret: str) -> int:
    answer = http.post(
        f"{issuer}/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    return answer.status_code


def test_a_secret_rotated_elsewhere_stops_working_at_once(http, make, module_tenant, elsewhere):
    issuer = make.issuer(module_tenant)
    issued = make.client(module_tenant)
    client_id = issued.client.client_id
    assert token(http, issuer, client_id, issued.secret) == 200  # cached now

    rotated = client_service.rotate_secret(elsewhere.uow(), module_tenant, client_id)
    assert token(http, issuer, client_id, issued.secret) == 401
    assert token(http, issuer, client_id, rotated.secret) == 200


def test_a_client_deleted_elsewhere_is_gone_at_once(http, make, module_tenant, elsewhere):
    issuer = make.issuer(module_tenant)
    issued = make.client(module_tenant)
    client_id = issued.client.client_id
    assert token(http, issuer, client_id, issued.secret) == 200

    client_service.delete_client(elsewhere.uow(), module_tenant, client_id)
    assert token(http, issuer, client_id, issued.secret) == 401


def test_metadata_changed_elsewhere_applies_at_once(http, make, module_tenant, elsewhere):
    issuer = make.issuer(module_tenant)
    issued = make.client(module_tenant, scopes=("orders:read", "orders:write"))
    client_id = issued.client.client_id
    assert token(http, issuer, client_id, issued.secret) == 200

    client_service.update_client(
        elsewhere.uow(), module_tenant, client_id, {"scopes": ["orders:read"]}
    )
    narrowed = http.post(
        f"{issuer}/token",
        data={"grant_type": "client_credentials", "scope": "orders:write"},
        auth=(client_id, issued.secret),
    )
    assert narrowed.status_code == 400 and narrowed.json()["error"] == "invalid_scope"


def test_a_change_to_one_tenants_clients_leaves_other_tenants_cached(
    http, make, module_tenant, services
):
    """The generation is per tenant: writing a client of one tenant does not touch another's."""
    other_tenant = make.tenant()
    ours = make.client(module_tenant)
    assert token(http, make.issuer(module_tenant), ours.client.client_id, ours.secret) == 200
    before = services.store.get(f"clients-generation:{module_tenant.id}")
    make.client(other_tenant)
    assert services.store.get(f"clients-generation:{module_tenant.id}") == before
    assert services.store.get(f"clients-generation:{other_tenant.id}") is not None


def test_a_worker_trusts_the_generation_it_read_only_briefly(make, module_tenant, services):
    """Between writes the store is not read on every request (the point of the cache), but a
    generation is trusted only GENERATION_TRUSTED_FOR seconds after its read began."""
    issued = make.client(module_tenant)
    client_id = issued.client.client_id
    cache = ClientCache(services.client_lookup, services.store)
    first_read = time.monotonic()
    assert cache.get(module_tenant.id, client_id) is not None

    # Renamed behind the cache's back, without the writers' wait: the trusted generation still
    # vouches for the cached copy, until the trust runs out.
    clients = Client.__table__
    with services.engine.begin() as connection:
        connection.execute(
            update(clients)
            .where(clients.c.tenant_id == module_tenant.id, clients.c.client_id == client_id)
            .values(name="Renamed")
        )
    clients_changed(services.store, module_tenant.id)
    trusted = cache.get(module_tenant.id, client_id)
    # The trust began no earlier than first_read and was judged no later than now: only when
    # that whole span is shorter than the trust must the stale copy have been served.
    if time.monotonic() - first_read < GENERATION_TRUSTED_FOR:
        assert trusted is not None and trusted.name == issued.client.name
    time.sleep(GENERATION_TRUSTED_FOR)
    renamed = cache.get(module_tenant.id, client_id)
    assert renamed is not None and renamed.name == "Renamed"


def test_a_client_write_returns_only_after_every_worker_stops_trusting_the_old_generation(
    make, module_tenant, services
):
    issued = make.client(module_tenant)
    started = time.monotonic()
    client_service.update_client(
        services.uow(), module_tenant, issued.client.client_id, {"name": "Renamed"}
    )
    assert time.monotonic() - started >= GENERATION_TRUSTED_FOR
