"""The durable revocation records (DESIGN §3) on SQLite and PostgreSQL, and the Redis cache in
front of them: what a record refuses, for how long, and that the cache never answers for
records it may have lost."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from idp.models.revocation_records import RevocationRecords
from idp.services.container import Services
from idp.services.tenancy.tenants import TenantView
from idp.services.tokens.revocations import WARM, WARM_KEY, Revocations
from idp.stores.redis import RedisStore
from tests.support.factories import Factory
from tests.support.redis_server import RedisServer


@pytest.fixture
def tenant(make: Factory) -> TenantView:
    return make.tenant()


@pytest.fixture
def records(services: Services) -> RevocationRecords:
    return RevocationRecords(services.engine)


def test_a_revoked_token_is_refused_until_it_expires(records, tenant) -> None:
    now = time.time()
    records.revoke_token(tenant.id, "jti-1", now + 0.3)
    records.revoke_token(tenant.id, "jti-1", now + 0.3)  # a retried revocation: no error
    assert records.state(tenant.id, "jti-1", None, time.time()).jti_revoked
    assert not records.state(tenant.id, "jti-2", None, time.time()).jti_revoked
    time.sleep(0.4)
    assert not records.state(tenant.id, "jti-1", None, time.time()).jti_revoked


def test_a_cutoff_only_moves_forward(records, tenant) -> None:
    now = time.time()
    records.revoke_before(tenant.id, "person", now, now + 60)
    records.revoke_before(tenant.id, "person", now - 100, now + 10)
    assert records.state(tenant.id, "jti", "person", now).revoked_before == pytest.approx(now)
    records.revoke_before(tenant.id, "person", now + 5, now + 60)
    later = records.state(tenant.id, "jti", "person", now).revoked_before
    assert later == pytest.approx(now + 5)
    # A client's own token (no person) never reads a cutoff.
    assert records.state(tenant.id, "jti", None, now).revoked_before is None


def test_records_are_per_tenant(records, make: Factory) -> None:
    first, second = make.tenant(), make.tenant()
    now = time.time()
    records.revoke_token(first.id, "shared-jti", now + 60)
    records.revoke_before(first.id, "shared-subject", now, now + 60)
    state = records.state(second.id, "shared-jti", "shared-subject", now)
    assert (state.jti_revoked, state.revoked_before) == (False, None)


def test_an_assertion_is_used_once_until_it_expires(records, tenant) -> None:
    expires = time.time() + 0.3
    assert records.use_assertion(tenant.id, "client", "jti", expires) is True
    assert records.use_assertion(tenant.id, "client", "jti", expires) is False
    assert records.use_assertion(tenant.id, "other-client", "jti", expires) is True
    time.sleep(0.4)
    assert records.use_assertion(tenant.id, "client", "jti", time.time() + 60) is True


def test_purge_removes_only_what_refuses_nothing(records, tenant) -> None:
    now = time.time()
    records.revoke_token(tenant.id, "old", now - 1)
    records.revoke_token(tenant.id, "live", now + 60)
    records.purge()
    live = {record.jti for record in records.live(time.time()) if record.tenant_id == tenant.id}
    assert live == {"live"}


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    redis_server.start()
    yield redis_server
    redis_server.stop()


@pytest.mark.redis
def test_the_cache_answers_only_once_it_is_known_complete(
    records, tenant, own_redis: RedisServer
) -> None:
    cache = RedisStore(own_redis.url, "idp:")
    revocations = Revocations(records, cache, cache)
    revocations.revoke_token(tenant.id, "before", time.time() + 60)
    own_redis.flushall()
    # Recorded while the cache was empty: only the database knows.
    records.revoke_token(tenant.id, "while-cold", time.time() + 60)

    assert revocations.is_revoked(tenant.id, "while-cold", None, 0)
    assert own_redis.client().get(f"idp:{WARM_KEY}") == WARM
    for jti in ("before", "while-cold"):
        assert own_redis.client().get(f"idp:revoked-jti:{tenant.id}:{jti}") == "1"
        assert revocations.is_revoked(tenant.id, jti, None, 0)
    assert not revocations.is_revoked(tenant.id, "never", None, 0)
