"""Workers cache clients (services/client_cache.py), and a change made anywhere else, by another
worker, instance or the `idp` command, takes effect at once on every one of them. Here the
change is made through a second set of services on the same database and store, as another
process would, after the server has cached the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from idp.services import clients as client_service
from idp.services.container import Services, build_services


@pytest.fixture
def elsewhere(services: Services) -> Iterator[Services]:
    other = build_services(services.settings)
    yield other
    other.usage.close()
    other.engine.dispose()


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
