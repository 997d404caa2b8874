"""Rate limits of the management API (issue 4 §6): per API key and per client IP, counted in the
shared store so they hold across instances, answered 429 with Retry-After.

These run on two servers of their own with small limits, sharing the session's database and
store, behind a "trusted proxy" so that each test can speak from its own client IP.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from idp.services.container import build_services
from tests.conftest import settings_for_tests
from tests.http.api.conftest import Api
from tests.support.ports import free_port
from tests.support.server import LiveServer, start_server

PER_KEY = 5
PER_IP = 8
TEMPLATE = "/tenants/{slug}"


@pytest.fixture(scope="module")
def limited(server, backend, tmp_path_factory) -> Iterator[list[LiveServer]]:
    """Two instances with small limits; `server` has migrated the database they share."""
    instances = []
    for _ in range(2):
        port = free_port()
        directory = tmp_path_factory.mktemp("limited")
        settings = settings_for_tests(backend, directory, f"http://127.0.0.1:{port}").replace(
            server={"trust_proxy": True},
            keys={"kek_file": server.services.settings.keys.kek_file},
            rate_limits={"api_per_minute_per_key": PER_KEY, "api_per_minute_per_ip": PER_IP},
        )
        instances.append(start_server(build_services(settings), port))
    yield instances
    for instance in instances:
        instance.stop()
        instance.services.engine.dispose()


@pytest.fixture
def from_new_ip(limited, api_spec):
    """Make a client of the first limited instance (or `instance`) speaking from a fresh IP."""
    address = f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"  # RFC 3849

    def make(token: str | None, instance: int = 0) -> Api:
        client = Api(limited[instance].url, token, api_spec)
        client.session.headers["X-Forwarded-For"] = address
        return client

    return make


def _assert_limited(response) -> None:
    assert response.status_code == 429
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_a_key_is_limited_per_minute_and_another_key_is_not(from_new_ip, make, tenant_key):
    tenant = make.tenant()
    busy = from_new_ip(tenant_key(tenant))
    path = f"/tenants/{tenant.slug}"
    assert [busy.get(path, TEMPLATE).status_code for _ in range(PER_KEY)] == [200] * PER_KEY
    _assert_limited(busy.get(path, TEMPLATE))
    assert from_new_ip(tenant_key(tenant)).get(path, TEMPLATE).status_code == 200


def test_the_limit_holds_across_instances(from_new_ip, make, tenant_key):
    tenant = make.tenant()
    token = tenant_key(tenant)
    path = f"/tenants/{tenant.slug}"
    statuses = [from_new_ip(token, i % 2).get(path, TEMPLATE).status_code for i in range(PER_KEY)]
    assert statuses == [200] * PER_KEY
    _assert_limited(from_new_ip(token, PER_KEY % 2).get(path, TEMPLATE))
    _assert_limited(from_new_ip(token, (PER_KEY + 1) % 2).get(path, TEMPLATE))


def test_a_stranger_with_bad_keys_is_limited_by_ip(from_new_ip, make, tenant_key):
    tenant = make.tenant()
    path = f"/tenants/{tenant.slug}"
    guesses = [
        from_new_ip(f"idp_ak_guess{i}").get(path, TEMPLATE).status_code for i in range(PER_IP)
    ]
    assert guesses == [401] * PER_IP
    _assert_limited(from_new_ip(f"idp_ak_guess{PER_IP}").get(path, TEMPLATE))
    # From that address even a valid key waits; the limit is on the address.
    _assert_limited(from_new_ip(tenant_key(tenant)).get(path, TEMPLATE))


def test_the_ip_limit_counts_every_key_from_one_address(from_new_ip, make, tenant_key):
    tenant = make.tenant()
    path = f"/tenants/{tenant.slug}"
    callers = [from_new_ip(tenant_key(tenant)) for _ in range(2)]
    statuses = [callers[i % 2].get(path, TEMPLATE).status_code for i in range(PER_IP)]
    assert statuses == [200] * PER_IP, "each key stays under its own limit"
    _assert_limited(callers[0].get(path, TEMPLATE))
