"""Workers cache tenants and key rings (services/tenancy/tenants.py, tokens/signing_keys.py)
under each tenant's settings generation: a copy checked by its generation serves without
re-reading the tenant, and a change made anywhere else, by another worker, instance or the
`idp` command, takes effect at once. Here the change is made through a second set of services
on the same database and store, as another process would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from idp.models.lookups import TenantLookup, TenantRow
from idp.services.container import Services, build_services
from idp.services.generations import TRUSTED_FOR, TenantGenerations
from idp.services.tenancy import tenants as tenants_module
from idp.services.tenancy.tenants import (
    SETTINGS_GENERATIONS,
    TenantCache,
    delete_tenant,
    update_tenant,
)
from idp.services.tokens.signing_keys import KeyCache, rotate_keys
from idp.stores import make_store


class CountingLookup(TenantLookup):
    """The real lookup, counting the tenant rows it reads."""

    reads = 0

    def by_slug(self, slug: str) -> TenantRow | None:
        self.reads += 1
        return super().by_slug(slug)


@pytest.fixture
def elsewhere(services: Services) -> Iterator[Services]:
    other = build_services(services.settings)
    yield other
    other.close()


def generations(services: Services) -> TenantGenerations:
    return TenantGenerations(services.store, SETTINGS_GENERATIONS)


def test_a_checked_copy_serves_without_reading_the_tenant_again(make, services):
    tenant = make.tenant()
    lookup = CountingLookup(services.engine)
    cache = TenantCache(lookup, 0.0, generations(services))
    cache.get(tenant.slug)
    assert lookup.reads == 1  # under the generation its id gave

    for _ in range(3):
        time.sleep(TRUSTED_FOR)
        view = cache.get(tenant.slug)
        assert view is not None and view.name == tenant.name

    assert lookup.reads == 1


def test_slug_scanning_does_not_push_tenants_out(make, services, monkeypatch):
    """Unknown slugs are remembered in a bounded set of their own: made-up slugs never cost
    the tenants that exist their cached copy."""
    monkeypatch.setattr(tenants_module, "MAX_UNKNOWN", 5)
    tenant = make.tenant()
    lookup = CountingLookup(services.engine)
    cache = TenantCache(lookup, 60.0, generations(services))
    cache.get(tenant.slug)

    for number in range(20):
        assert cache.get(f"no-such-tenant-{number}") is None

    assert cache.get(tenant.slug) is not None
    assert lookup.reads == 1


def test_settings_changed_elsewhere_apply_at_once(make, services, elsewhere):
    tenant = make.tenant()
    cache = TenantCache(TenantLookup(services.engine), 0.0, generations(services))
    cache.get(tenant.slug)

    update_tenant(elsewhere.uow(), tenant.slug, {"name": "Renamed elsewhere"})

    view = cache.get(tenant.slug)
    assert view is not None and view.name == "Renamed elsewhere"


def test_a_deleted_tenant_is_gone_at_once(make, services, elsewhere):
    tenant = make.tenant()
    cache = TenantCache(TenantLookup(services.engine), 0.0, generations(services))
    assert cache.get(tenant.slug) is not None

    delete_tenant(elsewhere.uow(), tenant.slug)

    assert cache.get(tenant.slug) is None


def test_a_key_rotated_elsewhere_is_in_the_ring_at_once(make, services, elsewhere):
    tenant = make.tenant()
    lookup = TenantLookup(services.engine)
    cache = KeyCache(lookup, services.kek, 3600.0, generations(services))
    before = {key.kid for key in cache.ring(tenant.id).keys}

    created = rotate_keys(
        elsewhere.uow(), elsewhere.kek, tenant.id, ["ES256"], timedelta(0), timedelta(hours=1)
    )

    after = {key.kid for key in cache.ring(tenant.id).keys}
    assert after == before | {created[0].kid}


def test_a_tenant_generation_is_read_again_only_after_some_tenant_changed(make, services):
    quiet, busy = make.tenant(), make.tenant()
    counted = CountingStore(services.store)
    reader = TenantGenerations(counted, SETTINGS_GENERATIONS)
    first = reader.current(quiet.id)
    reader.current(busy.id)
    time.sleep(TRUSTED_FOR)
    reads = counted.reads_of(quiet.id)

    assert reader.current(quiet.id) == first  # the overall generation vouched for it
    assert counted.reads_of(quiet.id) == reads

    generations(services).changed(busy.id)

    assert reader.current(quiet.id) == first  # read again, unchanged
    assert counted.reads_of(quiet.id) == reads + 1
    assert reader.current(busy.id) != first


def test_without_the_store_a_copy_is_trusted_for_the_ttl(make, services):
    """Redis down: tenants are read again every `ttl` seconds, as before generations existed."""
    tenant = make.tenant()
    dead = make_store(
        "redis://127.0.0.1:9/0", "t", services.engine, connect_timeout=0.2, command_timeout=0.2
    )
    lookup = CountingLookup(services.engine)
    cache = TenantCache(lookup, 0.0, TenantGenerations(dead, SETTINGS_GENERATIONS))

    for _ in range(3):
        view = cache.get(tenant.slug)
        assert view is not None and view.slug == tenant.slug

    assert lookup.reads == 3


class CountingStore:
    """The real store, counting reads of each tenant's settings generation."""

    def __init__(self, store) -> None:
        self._store = store
        self._reads: dict[str, int] = {}

    def reads_of(self, tenant_id: int) -> int:
        return self._reads.get(f"{SETTINGS_GENERATIONS}-generation:{tenant_id}", 0)

    def get(self, key: str):
        self._reads[key] = self._reads.get(key, 0) + 1
        return self._store.get(key)

    def __getattr__(self, name: str):
        return getattr(self._store, name)
