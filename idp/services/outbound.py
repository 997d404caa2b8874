"""Outbound HTTP to URLs that clients registered: `jwks_uri` documents, back-channel logout.

A self-registered client (RFC 7591) is a stranger, and we call its URLs from inside our network.
Registration already refuses address literals and names like `localhost` that are not public
(services/oauth_clients/registration.py), but a public-looking name can resolve to 127.0.0.1, a
private network or a cloud metadata address, or be re-pointed there after registration (DNS
rebinding).
So for such URLs the name is resolved here, every address it resolves to must be global, and
the connection goes to the address that was checked, with the original name kept for the `Host`
header and for TLS (SNI and certificate verification). Admin-registered clients are trusted
with internal URLs and skip the address check, but take the same path.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeDestination(ValueError):
    """The URL cannot be called: malformed, or it leads to an address that is not public."""


class OutboundError(IOError):
    """The call was made and failed: connection, timeout, TLS, or a body over the limit."""


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


def call(
    method: str,
    uri: str,
    *,
    public_only: bool,
    max_bytes: int,
    fields: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> Reply:
    """One request, no redirects followed, the body read up to `max_bytes`.

    `fields` are sent form-encoded (POST). Raises UnsafeDestination before connecting when
    `public_only` and the name resolves to any non-global address. urllib3 is loaded at the
    first call, not in every worker at start.
    """
    import urllib3
    from urllib3.exceptions import HTTPError

    parts = urlsplit(uri)
    host = parts.hostname
    if parts.scheme not in DEFAULT_PORTS or not host:
        raise UnsafeDestination("only absolute http(s) URLs can be called")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as error:
        raise UnsafeDestination("the URL has an invalid port") from error
    address = destination(host, port, public_only)
    secure = parts.scheme == "https"
    pool_class = urllib3.HTTPSConnectionPool if secure else urllib3.HTTPConnectionPool
    tls = {"server_hostname": host, "assert_hostname": host} if secure else {}
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"Host": parts.netloc.rpartition("@")[2], "User-Agent": "idp"}
    pool = pool_class(
        address, port, timeout=urllib3.Timeout(total=timeout), retries=False, maxsize=1, **tls
    )
    try:
        if fields is None:
            response = pool.urlopen(
                method, target, headers=headers, redirect=False, preload_content=False
            )
        else:
            response = pool.request_encode_body(
                method,
                target,
                fields=fields,
                headers=headers,
                encode_multipart=False,
                redirect=False,
                preload_content=False,
            )
        body = response.read(max_bytes + 1, decode_content=True)
        response.release_conn()
    except (HTTPError, OSError) as error:
        raise OutboundError(f"{type(error).__name__} calling {host}") from error
    finally:
        pool.close()
    if len(body) > max_bytes:
        raise OutboundError(f"the response from {host} is over {max_bytes} bytes")
    return Reply(response.status, body)


def destination(host: str, port: int, public_only: bool) -> str:
    """The address to connect to; with `public_only`, every address of `host` must be global.

    Checking all of them, not only the first, stops a name that lists a public address next to
    a private one from reaching the private one on a retry or a later resolution.
    """
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundError(f"cannot resolve {host}") from error
    addresses = [str(info[4][0]) for info in found]
    if not addresses:
        raise OutboundError(f"cannot resolve {host}")
    if public_only:
        for address in addresses:
            # Scoped IPv6 addresses ("fe80::1%eth0") carry a zone the parser does not take.
            if not ipaddress.ip_address(address.split("%")[0]).is_global:
                raise UnsafeDestination(f"{host} resolves to a non-public address")
    return addresses[0]
