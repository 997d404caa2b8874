"""What `[redis] url` may name, and the connection pool that reaches it.

redis-py reads `redis://`, `rediss://` and `unix://` URLs itself but has no URL for Sentinel,
so we define one (documented in config.toml and README.md):

    redis://[[user]:password@]host[:port][/db]                 plain TCP
    rediss://[[user]:password@]host[:port][/db][?tls options]  TLS
    unix://[[user]:password@]/path/to/redis.sock[?db=N]        a local socket
    redis+sentinel://[[user]:password@]host:port[,host:port...]/service_name[/db][?options]
    rediss+sentinel://...                                      TLS to the sentinels and the master

The user and password are the data node's (ACL user, `requirepass`); sentinels that need a
password of their own get it as `sentinel_password`. Options are checked here, so a typo stops
the server at start-up naming `redis.url` instead of failing at the first connection.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
from redis.connection import SSLConnection
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from idp.settings import SettingsError

PLAIN_SCHEMES = ("redis", "unix")
SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
TLS_SCHEMES = ("rediss", "rediss+sentinel")
DEFAULT_SENTINEL_PORT = 26379
CERT_REQS = ("required", "optional", "none")
BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _existing_file(name: str, value: str) -> str:
    if not os.path.isfile(value):
        raise SettingsError(f"redis.url: {name} names no readable file: {value}")
    return value


def _cert_reqs(name: str, value: str) -> str:
    if value not in CERT_REQS:
        raise SettingsError(f"redis.url: {name} must be one of {', '.join(CERT_REQS)}")
    return value


def _boolean(name: str, value: str) -> bool:
    if value.lower() not in BOOLEANS:
        raise SettingsError(f"redis.url: {name} must be true or false")
    return BOOLEANS[value.lower()]


def _text(name: str, value: str) -> str:
    return value


# The TLS options of redis-py's SSLConnection that a URL may set. Certificates are verified
# against the system's CAs (or ssl_ca_certs) and the host name checked unless the URL says not.
TLS_OPTIONS: Mapping[str, Callable[[str, str], object]] = {
    "ssl_ca_certs": _existing_file,  # a PEM bundle of the CAs to trust instead of the system's
    "ssl_cert_reqs": _cert_reqs,  # required (default) | optional | none (no verification)
    "ssl_check_hostname": _boolean,  # default true; ignored with ssl_cert_reqs=none
    "ssl_certfile": _existing_file,  # a client certificate, for servers that demand one
    "ssl_keyfile": _existing_file,  # its private key
}
SENTINEL_OPTIONS: Mapping[str, Callable[[str, str], object]] = {"sentinel_password": _text}


class MasterFollowingConnection(SentinelManagedConnection):
    """A Sentinel-managed connection that asks where the master is on every reconnect.

    redis-py 8 reconnects a broken connection inside `send_packed_command` through
    `connect_check_health`, which skips SentinelManagedConnection's own `connect` and so dials
    the address it last had: after a failover, the demoted master, answering READONLY forever.
    """

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        if not self._sock and self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        super().connect_check_health(check_health, retry_socket_connect)


class MasterFollowingSSLConnection(MasterFollowingConnection, SSLConnection):
    """The same over TLS."""


def connection_pool(url: str, **options: Any) -> redis.ConnectionPool:
    """A pool of connections to the Redis `url` names; `options` (e.g. `decode_responses`,
    socket timeouts) apply to every connection, the sentinels' included."""
    scheme = urlsplit(url).scheme
    if scheme in PLAIN_SCHEMES:
        return redis.ConnectionPool.from_url(url, **options)
    if scheme == "rediss":
        address, tls = _split_query(url, TLS_OPTIONS)
        return redis.ConnectionPool.from_url(address, **tls, **options)
    if scheme in SENTINEL_SCHEMES:
        return _sentinel_pool(url, options)
    raise SettingsError(
        "redis.url must be a redis://, rediss://, unix://, redis+sentinel:// or "
        "rediss+sentinel:// URL"
    )


def _split_query(
    url: str, accepted: Mapping[str, Callable[[str, str], object]]
) -> tuple[str, dict[str, object]]:
    """The URL without its query, and the query's options checked against `accepted`."""
    address, _, query = url.partition("?")
    options: dict[str, object] = {}
    for name, value in parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)):
        check = accepted.get(name)
        if check is None:
            names = ", ".join(accepted) or "none"
            raise SettingsError(f"redis.url: unknown option '{name}' (accepted: {names})")
        options[name] = check(name, value)
    return address, options


def _sentinel_pool(url: str, options: dict[str, Any]) -> SentinelConnectionPool:
    """A pool that asks the sentinels where the master of the service is, and asks again when a
    connection breaks or finds the node demoted (redis-py's SentinelManagedConnection)."""
    tls_scheme = url.startswith("rediss+")
    accepted = {**SENTINEL_OPTIONS, **(TLS_OPTIONS if tls_scheme else {})}
    address, query = _split_query(url, accepted)
    sentinel_password = query.pop("sentinel_password", None)
    tls: dict[str, object] = {"ssl": True, **query} if tls_scheme else {}
    data_tls = {name: value for name, value in tls.items() if name != "ssl"}
    connection_class = MasterFollowingSSLConnection if tls_scheme else MasterFollowingConnection
    parts = urlsplit(address)
    hosts = _sentinel_hosts(parts.netloc.rpartition("@")[2])
    service_name, db = _service_and_db(parts.path)
    # As redis-py does by default, sentinels get the socket options but not the data node's
    # credentials; they are reached over TLS when the data nodes are.
    sentinel_kwargs: dict[str, object] = {
        **{name: value for name, value in options.items() if name.startswith("socket_")},
        **tls,
    }
    if sentinel_password is not None:
        sentinel_kwargs["password"] = sentinel_password
    manager = Sentinel(hosts, sentinel_kwargs=sentinel_kwargs)
    return SentinelConnectionPool(
        service_name,
        manager,
        db=db,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        connection_class=connection_class,
        **data_tls,
        **options,
    )


def _sentinel_hosts(hosts: str) -> list[tuple[str, int]]:
    """`host:port[,host:port...]`; a port left out is Sentinel's own 26379; `[::1]:26379`."""
    found: list[tuple[str, int]] = []
    for entry in filter(None, hosts.split(",")):
        host, port = _host_and_port(entry)
        found.append((host, port))
    if not found:
        raise SettingsError("redis.url: a Sentinel URL names at least one host:port")
    return found


def _host_and_port(entry: str) -> tuple[str, int]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest.removeprefix(":")
    else:
        host, _, port_text = entry.partition(":")
    if not host:
        raise SettingsError(f"redis.url: '{entry}' names no host")
    if not port_text:
        return host, DEFAULT_SENTINEL_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SettingsError(f"redis.url: '{entry}' has no valid port")
    return host, int(port_text)


def _service_and_db(path: str) -> tuple[str, int]:
    """`/service_name[/db]`: the name the sentinels monitor the master under."""
    segments = path.strip("/").split("/") if path.strip("/") else []
    if not segments or len(segments) > 2:
        raise SettingsError("redis.url: a Sentinel URL ends in /service_name or /service_name/db")
    service_name = unquote(segments[0])
    if len(segments) == 1:
        return service_name, 0
    if not segments[1].isdigit():
        raise SettingsError("redis.url: the database after the service name must be a number")
    return service_name, int(segments[1])
