"""`mail.smtp_url`, parsed once at start-up: a fault stops the server naming the key.

No message here ever quotes the URL: it may hold the password.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from idp.settings import SettingsError

# RFC 6409 §3.1 message submission, and RFC 8314 §3.3 submission over implicit TLS.
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
OPTIONS = ("ssl_ca_certs",)


@dataclass(frozen=True)
class SmtpUrl:
    implicit_tls: bool
    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    ca_file: str | None  # trust these CAs instead of the system's


def parse_smtp_url(url: str) -> SmtpUrl:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SettingsError("mail.smtp_url has no valid port") from None
    if parts.scheme not in DEFAULT_PORTS:
        raise SettingsError("mail.smtp_url must be an smtp:// or smtps:// URL")
    if not parts.hostname:
        raise SettingsError("mail.smtp_url names no host")
    if parts.path not in ("", "/") or parts.fragment:
        raise SettingsError("mail.smtp_url takes no path")
    if (parts.username is None) != (parts.password is None):
        raise SettingsError("mail.smtp_url needs both a user and a password, or neither")
    return SmtpUrl(
        implicit_tls=parts.scheme == "smtps",
        host=parts.hostname,
        port=port or DEFAULT_PORTS[parts.scheme],
        username=None if parts.username is None else unquote(parts.username),
        password=None if parts.password is None else unquote(parts.password),
        ca_file=_ca_file(parts.query),
    )


def _ca_file(query: str) -> str | None:
    options = parse_qs(query, keep_blank_values=True)
    for name in options:
        if name not in OPTIONS:
            raise SettingsError(
                f"mail.smtp_url: unknown option '{name}' (accepted: {', '.join(OPTIONS)})"
            )
    values = options.get("ssl_ca_certs")
    if values is None:
        return None
    if len(values) != 1 or not os.access(values[0], os.R_OK) or not os.path.isfile(values[0]):
        raise SettingsError("mail.smtp_url: ssl_ca_certs names no readable file")
    return values[0]
