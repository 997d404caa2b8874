"""Typed, frozen settings from `config.toml` overridden by `IDP_<SECTION>__<KEY>` variables.

Parsed once at start-up (DESIGN §8). Anything unknown or malformed raises `SettingsError` naming
the exact key, so a typo in production stops the server instead of silently taking a default.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

SIGNING_ALGS = ("RS256", "PS256", "ES256", "EdDSA")
ENV_PREFIX = "IDP_"
# RFC 9110 §5.1: a field name is a token; letters, digits and hyphens are what proxies keep.
HEADER_NAME = re.compile(r"[A-Za-z0-9-]+")
# A longer grace window would let a stolen, already rotated refresh token fork the family.
MAX_REUSE_GRACE = 60


class SettingsError(ValueError):
    """A configuration value is unknown or invalid; the message names the key."""


@dataclass(frozen=True)
class ServerSettings:
    public_url: str = "http://localhost:5000"
    trust_proxy: bool = False
    max_body_bytes: int = 65536
    request_id_header: str = "X-Request-Id"

    def validate(self) -> None:
        parts = urlsplit(self.public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError("server.public_url must be an absolute http(s) URL")
        if self.public_url.endswith("/") or parts.query or parts.fragment:
            raise SettingsError("server.public_url must not end in '/' or carry a query")
        _positive("server.max_body_bytes", self.max_body_bytes)
        if not HEADER_NAME.fullmatch(self.request_id_header):
            raise SettingsError("server.request_id_header must be an HTTP header name")


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = "sqlite:///var/idp.sqlite3"
    pool_size: int = 5
    # Bounds on waiting for PostgreSQL, so an unreachable database answers 503 in seconds
    # instead of holding a worker thread until gunicorn's timeout kills it.
    connect_timeout_seconds: int = 3
    pool_timeout_seconds: float = 2.0

    def validate(self) -> None:
        if not self.url.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise SettingsError("database.url must be a sqlite:// or postgresql:// URL")
        _positive("database.pool_size", self.pool_size)
        # libpq counts whole seconds and treats anything below 2 as 2.
        if self.connect_timeout_seconds < 2:
            raise SettingsError("database.connect_timeout_seconds must be at least 2")
        _positive("database.pool_timeout_seconds", self.pool_timeout_seconds)


@dataclass(frozen=True)
class RedisSettings:
    url: str = ""
    key_prefix: str = "idp:"
    # A store that does not answer within these bounds counts as unavailable (503), instead of
    # redis-py's default of waiting forever on a command.
    connect_timeout_seconds: float = 1.0
    command_timeout_seconds: float = 1.0

    def validate(self) -> None:
        schemes = ("redis://", "rediss://", "unix://", "redis+sentinel://", "rediss+sentinel://")
        if self.url and not self.url.startswith(schemes):
            raise SettingsError(f"redis.url must be empty or a {' / '.join(schemes)} URL")
        if not self.key_prefix:
            raise SettingsError("redis.key_prefix must not be empty")
        _positive("redis.connect_timeout_seconds", self.connect_timeout_seconds)
        _positive("redis.command_timeout_seconds", self.command_timeout_seconds)


@dataclass(frozen=True)
class KeySettings:
    kek_file: str = "keys/kek"
    publish_delay_seconds: int = 600
    cache_seconds: int = 10
    jwks_max_age_seconds: int = 300

    def validate(self) -> None:
        if not self.kek_file.strip():
            raise SettingsError("keys.kek_file must name a file")
        _positive("keys.cache_seconds", self.cache_seconds)
        _positive("keys.jwks_max_age_seconds", self.jwks_max_age_seconds)
        # Publish-before-use (DESIGN §4): every verifier must be able to have seen the new key
        # before it signs, i.e. after our own cache and any client's JWKS cache refreshed.
        if self.publish_delay_seconds < self.cache_seconds + self.jwks_max_age_seconds:
            raise SettingsError(
                "keys.publish_delay_seconds must be at least "
                "keys.cache_seconds + keys.jwks_max_age_seconds"
            )


@dataclass(frozen=True)
class TokenSettings:
    access_token_lifetime_seconds: int = 3600
    signing_alg: str = "RS256"
    client_assertion_max_age_seconds: int = 3600
    # RFC 9700 §2.1.1: PKCE for confidential clients too (public clients always need it).
    pkce_required_for_confidential_clients: bool = True
    # RFC 9700 §4.14.2: a client whose refresh response was lost may retry the spent token this
    # long and get the same successor back; later, presenting it revokes the whole family.
    refresh_token_reuse_grace_seconds: int = 10

    def validate(self) -> None:
        _positive("tokens.access_token_lifetime_seconds", self.access_token_lifetime_seconds)
        if not 0 <= self.refresh_token_reuse_grace_seconds <= MAX_REUSE_GRACE:
            raise SettingsError(
                f"tokens.refresh_token_reuse_grace_seconds must be 0-{MAX_REUSE_GRACE}"
            )
        _positive("tokens.client_assertion_max_age_seconds", self.client_assertion_max_age_seconds)
        if self.signing_alg not in SIGNING_ALGS:
            raise SettingsError(f"tokens.signing_alg must be one of {', '.join(SIGNING_ALGS)}")


@dataclass(frozen=True)
class CacheSettings:
    tenant_seconds: int = 5
    client_jwks_seconds: int = 300

    def validate(self) -> None:
        _positive("cache.tenant_seconds", self.tenant_seconds)
        _positive("cache.client_jwks_seconds", self.client_jwks_seconds)


@dataclass(frozen=True)
class PasswordSettings:
    """argon2id cost (DESIGN §6), as config.toml [passwords] explains.

    OWASP Password Storage Cheat Sheet, argon2id: m=19456 KiB (19 MiB), t=2, p=1, the first of
    its equivalent settings and, of those verifying within about 50 ms on one core of the
    benchmark machine, the one with the most memory: ~29 ms measured there (m=47104 t=1 took
    ~57 ms; bench/RESULTS.md reports the figure of each run).
    """

    time_cost: int = 2
    memory_kib: int = 19456
    parallelism: int = 1

    def validate(self) -> None:
        _positive("passwords.time_cost", self.time_cost)
        _positive("passwords.memory_kib", self.memory_kib)
        _positive("passwords.parallelism", self.parallelism)


@dataclass(frozen=True)
class RateLimitSettings:
    token_per_minute: int = 6000
    sign_ins_started_per_minute: int = 600
    failed_auth_per_minute: int = 30
    api_per_minute_per_key: int = 600
    api_per_minute_per_ip: int = 1200
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 50
    login_window_seconds: int = 900
    # Account lockout (idp/services/signin/lockout.py): after login_failures_per_account
    # failures, a wait of lockout_base_seconds that doubles with each further failure, at most
    # lockout_max_seconds; failures are forgotten lockout_memory_seconds after the first one.
    lockout_base_seconds: int = 60
    lockout_max_seconds: int = 3600
    lockout_memory_seconds: int = 86400
    password_resets_per_address: int = 5
    password_resets_per_ip: int = 30
    password_reset_window_seconds: int = 3600
    signups_per_address: int = 5
    signups_per_ip: int = 20
    verification_mails_per_address: int = 5
    verification_mails_per_ip: int = 30
    signup_window_seconds: int = 3600
    magic_links_per_address: int = 5
    magic_links_per_ip: int = 30
    magic_link_window_seconds: int = 3600
    open_registrations_per_ip: int = 20
    open_registration_window_seconds: int = 3600

    def validate(self) -> None:
        _positive("rate_limits.token_per_minute", self.token_per_minute)
        _positive("rate_limits.sign_ins_started_per_minute", self.sign_ins_started_per_minute)
        _positive("rate_limits.failed_auth_per_minute", self.failed_auth_per_minute)
        _positive("rate_limits.api_per_minute_per_key", self.api_per_minute_per_key)
        _positive("rate_limits.api_per_minute_per_ip", self.api_per_minute_per_ip)
        _positive("rate_limits.login_failures_per_account", self.login_failures_per_account)
        _positive("rate_limits.login_failures_per_ip", self.login_failures_per_ip)
        _positive("rate_limits.login_window_seconds", self.login_window_seconds)
        _positive("rate_limits.lockout_base_seconds", self.lockout_base_seconds)
        _positive("rate_limits.lockout_max_seconds", self.lockout_max_seconds)
        _positive("rate_limits.lockout_memory_seconds", self.lockout_memory_seconds)
        if self.lockout_max_seconds < self.lockout_base_seconds:
            raise SettingsError(
                "rate_limits.lockout_max_seconds must be at least rate_limits.lockout_base_seconds"
            )
        if self.lockout_memory_seconds < self.lockout_max_seconds:
            raise SettingsError(
                "rate_limits.lockout_memory_seconds must be at least "
                "rate_limits.lockout_max_seconds"
            )
        _positive("rate_limits.password_resets_per_address", self.password_resets_per_address)
        _positive("rate_limits.password_resets_per_ip", self.password_resets_per_ip)
        _positive("rate_limits.password_reset_window_seconds", self.password_reset_window_seconds)
        _positive("rate_limits.signups_per_address", self.signups_per_address)
        _positive("rate_limits.signups_per_ip", self.signups_per_ip)
        _positive("rate_limits.verification_mails_per_address", self.verification_mails_per_address)
        _positive("rate_limits.verification_mails_per_ip", self.verification_mails_per_ip)
        _positive("rate_limits.signup_window_seconds", self.signup_window_seconds)
        _positive("rate_limits.magic_links_per_address", self.magic_links_per_address)
        _positive("rate_limits.magic_links_per_ip", self.magic_links_per_ip)
        _positive("rate_limits.magic_link_window_seconds", self.magic_link_window_seconds)
        _positive("rate_limits.open_registrations_per_ip", self.open_registrations_per_ip)
        _positive(
            "rate_limits.open_registration_window_seconds", self.open_registration_window_seconds
        )


@dataclass(frozen=True)
class UsageSettings:
    # Usage counters are kept in each process's memory and written at most this often (and at
    # exit): the token endpoint never waits for the database to count a token.
    flush_seconds: int = 10

    def validate(self) -> None:
        _positive("usage.flush_seconds", self.flush_seconds)


@dataclass(frozen=True)
class QueueSettings:
    # Background work kept in the database (back-channel logout, later mail): each worker
    # process runs `consumers` threads that look for due jobs every `poll_seconds`, or at once
    # when the process itself queued one.
    consumers: int = 2
    poll_seconds: int = 5
    # A claimed job is another consumer's to take once this has passed without an answer (its
    # holder died): longer than any one attempt may take.
    lease_seconds: int = 60
    # Attempt n that fails waits retry_base_seconds * 2**(n-1), at most retry_max_seconds;
    # after max_attempts the job is dropped and logged.
    max_attempts: int = 8
    retry_base_seconds: int = 1
    retry_max_seconds: int = 3600

    def validate(self) -> None:
        _positive("queue.consumers", self.consumers)
        _positive("queue.poll_seconds", self.poll_seconds)
        _positive("queue.lease_seconds", self.lease_seconds)
        _positive("queue.max_attempts", self.max_attempts)
        _positive("queue.retry_base_seconds", self.retry_base_seconds)
        if self.retry_max_seconds < self.retry_base_seconds:
            raise SettingsError("queue.retry_max_seconds must be at least queue.retry_base_seconds")


@dataclass(frozen=True)
class MailSettings:
    """Outgoing mail (DESIGN §12). The SMTP URL is parsed in full, naming `mail.smtp_url` on any
    fault, when the sender is built at start-up (idp/mail/smtp_url.py); here only its scheme."""

    # Empty: every message is written to `outbox_dir` instead of being sent (the embedded
    # default, so `make run` needs no mail server).
    smtp_url: str = ""
    from_address: str = "no-reply@example.com"
    outbox_dir: str = "var/outbox"
    # Bound on connecting and on each SMTP command; a consumer thread waits this long at most.
    timeout_seconds: float = 10.0

    def validate(self) -> None:
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise SettingsError("mail.smtp_url must be empty or an smtp:// or smtps:// URL")
        try:
            validate_email(self.from_address, check_deliverability=False)
        except EmailNotValidError as error:
            raise SettingsError(f"mail.from_address is not an e-mail address: {error}") from None
        if not self.outbox_dir.strip():
            raise SettingsError("mail.outbox_dir must name a directory")
        _positive("mail.timeout_seconds", self.timeout_seconds)


@dataclass(frozen=True)
class PagesSettings:
    """The hosted pages and mails (DESIGN §11)."""

    # A directory of per-tenant template overrides: {template_overrides}/{tenant}/pages/login.html
    # replaces templates/pages/login.html for that tenant, {tenant}/mail/NAME.txt a mail, and
    # {tenant}/layouts/base.html the layout. Read again when changed; empty: none.
    template_overrides: str = ""

    def validate(self) -> None:
        if self.template_overrides and not Path(self.template_overrides).is_dir():
            raise SettingsError("pages.template_overrides must name an existing directory")


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"

    def validate(self) -> None:
        if self.level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError("logging.level must be DEBUG, INFO, WARNING or ERROR")


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    keys: KeySettings = KeySettings()
    tokens: TokenSettings = TokenSettings()
    cache: CacheSettings = CacheSettings()
    passwords: PasswordSettings = PasswordSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    usage: UsageSettings = UsageSettings()
    queue: QueueSettings = QueueSettings()
    mail: MailSettings = MailSettings()
    pages: PagesSettings = PagesSettings()
    logging: LoggingSettings = LoggingSettings()

    def replace(self, **sections: Mapping[str, Any]) -> Settings:
        """A copy with some keys changed, validated like the original (used by tests)."""
        changed = {
            name: dataclasses.replace(getattr(self, name), **values)
            for name, values in sections.items()
        }
        result = dataclasses.replace(self, **changed)
        result.validate()
        return result

    def validate(self) -> None:
        for section in fields(self):
            getattr(self, section.name).validate()


def load_settings(
    path: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Read `config.toml` (or `IDP_CONFIG`), apply `IDP_*` overrides, validate.

    A missing `config.toml` in the working directory means "defaults only"; a file named
    explicitly (argument or `IDP_CONFIG`) must exist, or a typo would silently drop its values.
    """
    environ = os.environ if environ is None else environ
    named = path or environ.get("IDP_CONFIG")
    path = Path(named or "config.toml")
    raw: dict[str, Any] = {}
    if named and not path.is_file():
        raise SettingsError(f"configuration file {path} does not exist")
    if path.is_file():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as error:
            raise SettingsError(f"{path}: {error}") from error
    sections = {f.name for f in fields(Settings)}
    for name, values in raw.items():
        if name not in sections:
            raise SettingsError(f"unknown configuration section '{name}'")
        if not isinstance(values, dict):
            raise SettingsError(f"configuration section '{name}' must be a table")
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections:
            raise SettingsError(f"unknown configuration section '{section}' (from {name})")
        raw.setdefault(section, {})[key] = _EnvText(value)
    built = {
        section: _build_section(section, get_type_hints(Settings)[section], values)
        for section, values in raw.items()
    }
    settings = Settings(**built)
    settings.validate()
    return settings


class _EnvText(str):
    """A value from the environment: text that still has to be parsed into the field's type."""


def _build_section(section: str, cls: type, values: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    parsed: dict[str, Any] = {}
    for key, value in values.items():
        if key not in hints:
            raise SettingsError(f"unknown configuration key '{section}.{key}'")
        parsed[key] = _coerce(f"{section}.{key}", hints[key], value)
    return cls(**parsed)


def _coerce(name: str, kind: type, value: Any) -> Any:
    if isinstance(value, _EnvText):
        return _parse_env(name, kind, str(value))
    # bool is a subclass of int: a TOML `true` must not pass as a number, nor 1 as a flag.
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    # A TOML integer is a fine value for a number of seconds written `2` rather than `2.0`.
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is not int and isinstance(value, kind):
        return value
    raise SettingsError(f"{name} must be of type {kind.__name__}, got {value!r}")


def _parse_env(name: str, kind: type, text: str) -> Any:
    if kind is str:
        return text
    if kind is bool:
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    raise SettingsError(f"{name} must be of type {kind.__name__}, got {text!r}")


def _positive(name: str, value: float) -> None:
    if not 0 < value < math.inf:  # also refuses a `nan` or `inf` from the environment
        raise SettingsError(f"{name} must be a positive number")
