"""`[redis] url` parsing (idp/stores/redis_urls.py): what each documented form names, and that a
mistake stops start-up naming `redis.url` (DESIGN §8) without echoing the password. Building a
pool opens no connection, so no server is needed here; tests/integration/test_redis_urls.py
connects to real ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.sentinel import SentinelConnectionPool

from idp.settings import SettingsError, load_settings
from idp.stores.redis_urls import MasterFollowingSSLConnection, connection_pool


def sentinel_addresses(pool: SentinelConnectionPool) -> list[tuple[str, int]]:
    return [
        (sentinel.connection_pool.connection_kwargs["host"],
         sentinel.connection_pool.connection_kwargs["port"])
        for sentinel in pool.sentinel_manager.sentinels
    ]  # fmt: skip


def test_sentinel_url_names_hosts_service_db_and_credentials() -> None:
    pool = connection_pool(
        "redis+sentinel://app:s%40cret@10.0.0.1:26380,[::1],sentinel.local/my%20cache/3"
        "?sentinel_password=watch"
    )
    assert isinstance(pool, SentinelConnectionPool)
    assert sentinel_addresses(pool) == [
        ("10.0.0.1", 26380),
        ("::1", 26379),
        ("sentinel.local", 26379),
    ]
    assert pool.service_name == "my cache"
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["username"], kwargs["password"]) == (3, "app", "s@cret")
    sentinel_kwargs = pool.sentinel_manager.sentinel_kwargs
    assert sentinel_kwargs["password"] == "watch"


def test_tls_sentinel_url_uses_tls_for_master_and_sentinels(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not parsed until a connection is made")
    pool = connection_pool(f"rediss+sentinel://127.0.0.1:26379/svc?ssl_ca_certs={ca}")
    assert pool.connection_class is MasterFollowingSSLConnection
    assert pool.connection_kwargs["ssl_ca_certs"] == str(ca)
    assert pool.sentinel_manager.sentinel_kwargs == {"ssl": True, "ssl_ca_certs": str(ca)}


def test_rediss_options_reach_the_connections(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    pool = connection_pool(
        f"rediss://cache.example.com:6380/2?ssl_ca_certs={ca}&ssl_check_hostname=false"
        "&ssl_cert_reqs=optional",
        decode_responses=True,
    )
    kwargs = pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == ("cache.example.com", 6380, 2)
    assert kwargs["ssl_check_hostname"] is False
    assert (kwargs["ssl_cert_reqs"], kwargs["ssl_ca_certs"]) == ("optional", str(ca))
    assert kwargs["decode_responses"] is True


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("rediss://:hunter2@cache/0?ssl_ca_cert=/ca.pem", "unknown option 'ssl_ca_cert'"),
        ("rediss://:hunter2@cache/0?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of"),
        ("rediss://:hunter2@cache/0?ssl_check_hostname=perhaps", "must be true or false"),
        ("rediss://:hunter2@cache/0?ssl_ca_certs=/nonexistent.pem", "names no readable file"),
        ("redis+sentinel://:hunter2@s1:26379", "ends in /service_name"),
        ("redis+sentinel://:hunter2@s1:26379/svc/0/extra", "ends in /service_name"),
        ("redis+sentinel://:hunter2@s1:26379/svc/zero", "must be a number"),
        ("redis+sentinel://:hunter2@s1:port/svc", "no valid port"),
        ("redis+sentinel://:hunter2@/svc", "at least one host:port"),
        ("redis+sentinel://:hunter2@s1/svc?ssl_ca_certs=/ca.pem", "unknown option"),
        ("memcached://:hunter2@cache", "must be a redis://"),
    ],
)
def test_a_mistake_names_redis_url_and_never_the_password(url: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        connection_pool(url)
    assert str(raised.value).startswith("redis.url")
    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    ["rediss://cache:6380/0", "redis+sentinel://s1:26379/svc", "rediss+sentinel://s1/svc/1"],
)
def test_settings_accept_the_documented_schemes(url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    assert load_settings(config, environ={"IDP_REDIS__URL": url}).redis.url == url
