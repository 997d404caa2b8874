"""What a client may register as a URI or an origin: the rules `ClientSpec.validate()` applies.

Every rule raises `InvalidInput` naming the field, so each entry point (API, `idp`, dynamic
registration) reports it in its own way.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

from idp.services.errors import InvalidInput

# Loopback host names as `urlsplit().hostname` gives them (IPv6 without brackets).
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
# A web origin exactly as a browser sends it in `Origin` (RFC 6454 §6.2): lower-case scheme, host
# and an explicit port only when it is not the scheme's default. Host case is checked apart, for
# a clearer message.
ORIGIN = re.compile(r"^(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([1-9][0-9]{0,4}))?$")
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 §2: unreserved, reserved and percent-encoded characters; nothing else.
URI_CHARACTERS = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")


def check_redirect_uri(field_name: str, uri: str) -> None:
    """RFC 9700 §4.1: absolute, exact, no fragment, no wildcard; http only on loopback."""
    if not URI_CHARACTERS.match(uri):
        # Spaces, quotes, backslashes, controls and raw non-ASCII are not URI characters; a
        # browser would "fix" them, so what is compared would not be what was registered.
        raise InvalidInput(field_name, f"'{uri}' is not a URI (RFC 3986); percent-encode it")
    parts = split_uri(field_name, uri)
    if not parts.scheme or parts.fragment or "#" in uri or "*" in uri:
        raise InvalidInput(field_name, f"'{uri}' must be absolute, without fragment or wildcard")
    if parts.scheme in ("javascript", "data", "vbscript", "file"):
        raise InvalidInput(field_name, f"'{uri}' uses a forbidden scheme")
    if parts.scheme in ("http", "https"):
        if not parts.hostname or parts.username or parts.password:
            raise InvalidInput(field_name, f"'{uri}' needs a host and no user info")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_NAMES:
            raise InvalidInput(field_name, f"'{uri}': http is only allowed for loopback")
    elif "." not in parts.scheme:
        # RFC 8252 §7.1: private-use schemes are reverse domain names (com.example.app:/cb).
        raise InvalidInput(field_name, f"'{uri}': a custom scheme must be a reverse domain name")


def check_redirect_uri_of(application_type: str, uri: str) -> None:
    """OIDC Registration §2: which redirect URIs each application type may register.

    A web client is reached in a browser at a web address: https, or http on loopback while
    being developed. A native app receives its redirect through a private-use scheme or a
    loopback listener (RFC 8252 §7.1, §7.3); for the listener only IP literals, since
    `localhost` may resolve elsewhere (RFC 8252 §8.3), and only those get the port leeway.
    Called after `check_redirect_uri`, so the URI is already well-formed.
    """
    parts = urlsplit(uri)
    if application_type == "web" and parts.scheme not in ("http", "https"):
        raise InvalidInput(
            "redirect_uris", f"'{uri}': a private-use scheme needs application_type 'native'"
        )
    native_web_address = parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "::1")
    )
    if application_type == "native" and native_web_address:
        raise InvalidInput(
            "redirect_uris",
            f"'{uri}': a native client redirects to a private-use scheme, "
            "http://127.0.0.1 or http://[::1]",
        )


def check_web_url(field_name: str, uri: str) -> None:
    """An absolute https URL (http only on loopback), without credentials or fragment.

    For URLs we POST to (back-channel logout) or put in a page (logo): the scheme check also
    keeps out `javascript:` and `data:`.
    """
    if not URI_CHARACTERS.match(uri):
        raise InvalidInput(field_name, f"'{uri}' is not a URI (RFC 3986); percent-encode it")
    parts = split_uri(field_name, uri)
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_NAMES
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise InvalidInput(field_name, f"'{uri}' must be an https URL (http only on loopback)")
    if parts.username is not None or parts.fragment or "#" in uri:
        raise InvalidInput(field_name, f"'{uri}' must not contain user info or a fragment")


def check_origin(origin: str) -> None:
    """A CORS origin, in the exact form browsers send, so a plain string comparison is enough.

    No wildcard: every origin that may read our responses is named by an administrator.
    """
    field_name = "allowed_cors_origins"
    if "*" in origin:
        raise InvalidInput(field_name, f"'{origin}': wildcards are not allowed; list each origin")
    match = ORIGIN.match(origin)
    if not match:
        raise InvalidInput(
            field_name,
            f"'{origin}' must be scheme://host[:port]: no path, trailing slash, query or user info",
        )
    scheme, host, port = match.groups()
    if host != host.lower():
        raise InvalidInput(field_name, f"'{origin}': write the host in lower case")
    if scheme == "http" and host.strip("[]") not in LOOPBACK_NAMES:
        raise InvalidInput(field_name, f"'{origin}': http is only allowed for loopback")
    if port is not None and (int(port) > 65535 or int(port) == DEFAULT_PORTS[scheme]):
        # Browsers leave the default port out of `Origin`, so it would never match.
        raise InvalidInput(field_name, f"'{origin}': the port must be 1-65535, not the default")


def split_uri(field_name: str, uri: str) -> SplitResult:
    """`urlsplit`, with its ValueError (a bad IPv6 literal or port) as a field error."""
    try:
        parts = urlsplit(uri)
        _ = parts.port
    except ValueError:
        raise InvalidInput(field_name, f"'{uri}' has a malformed host or port") from None
    return parts


def check_resource(resource: str) -> None:
    """RFC 8707 §2: an absolute URI without a fragment."""
    parts = urlsplit(resource)
    if not parts.scheme or not (parts.netloc or parts.path) or parts.fragment or "#" in resource:
        raise InvalidInput("resources", f"'{resource}' must be an absolute URI without fragment")


def check_https_or_loopback(field_name: str, uri: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_NAMES
    if not (parts.scheme == "https" or loopback) or not parts.hostname:
        raise InvalidInput(field_name, f"'{uri}' must be an https URL")
