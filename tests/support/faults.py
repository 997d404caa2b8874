"""The deployment fault tests break (issue 8, DESIGN §3): the app under real gunicorn gthread
workers, as the Procfile runs it, with a tenant, a client, a person and an API key.

Only under gthread workers do per-thread store connections exist (Werkzeug's test server makes
a thread per request), so a fault test that must reach "the first request on each worker
thread" runs here. Tenants, clients and users are made in the test process through the real
services, on the same database, store and key-encryption key as the server's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from idp.services.management.api_keys import OPERATOR, create_api_key
from idp.services.tenancy.tenants import TenantView
from idp.settings import Settings
from tests.support.browser import PASSWORD, REDIRECT, Browser, code_request, pkce_pair
from tests.support.cli import Installation, clean_environ
from tests.support.factories import Factory
from tests.support.gunicorn import Gunicorn, start

WORKERS = 2
THREADS = 4
SCOPE = "openid profile offline_access"
# Concurrent fresh connections per round: far more requests than worker threads, so every
# thread of every worker gets some.
PARALLEL = 2 * WORKERS * THREADS


def fault_settings(directory: Path, public_url: str, database_url: str, redis_url: str) -> Settings:
    """Cheap hashing, one-second caches (so a test sees them go back to the database), and the
    shipped timeouts."""
    return Settings().replace(
        server={"public_url": public_url},
        database={"url": database_url},
        redis={"url": redis_url, "key_prefix": f"idp-faults-{directory.name}:"},
        keys={
            "kek_file": str(directory / "kek"),
            "cache_seconds": 1,
            "jwks_max_age_seconds": 1,
            "publish_delay_seconds": 2,
        },
        cache={"tenant_seconds": 1},
        passwords={"time_cost": 1, "memory_kib": 1024},
    )


def environ_of(settings: Settings) -> dict[str, str]:
    """The IDP_* variables that give a gunicorn process exactly these settings."""
    values = {
        "IDP_SERVER__PUBLIC_URL": settings.server.public_url,
        "IDP_DATABASE__URL": settings.database.url,
        "IDP_REDIS__URL": settings.redis.url,
        "IDP_REDIS__KEY_PREFIX": settings.redis.key_prefix,
        "IDP_KEYS__KEK_FILE": settings.keys.kek_file,
        "IDP_KEYS__CACHE_SECONDS": str(settings.keys.cache_seconds),
        "IDP_KEYS__JWKS_MAX_AGE_SECONDS": str(settings.keys.jwks_max_age_seconds),
        "IDP_KEYS__PUBLISH_DELAY_SECONDS": str(settings.keys.publish_delay_seconds),
        "IDP_CACHE__TENANT_SECONDS": str(settings.cache.tenant_seconds),
        "IDP_PASSWORDS__TIME_COST": str(settings.passwords.time_cost),
        "IDP_PASSWORDS__MEMORY_KIB": str(settings.passwords.memory_kib),
    }
    return clean_environ(**values)


@dataclass(kw_only=True)
class Deployment:
    """The running server and what was made on it; a fault test subclasses it with the pieces
    it breaks (its own Redis, a TCP relay)."""

    served: Gunicorn
    services: Services  # the test process's own, on the server's database and store
    tenant: TenantView
    issuer: str
    client_id: str
    secret: str
    email: str
    api_key: str

    @property
    def auth(self) -> tuple[str, str]:
        return (self.client_id, self.secret)

    def post(self, endpoint: str, **data: str) -> requests.Response:
        """Over a fresh connection, so the kernel may hand it to any worker."""
        return requests.post(
            f"{self.issuer}/{endpoint}",
            data=data,
            auth=self.auth,
            headers={"Connection": "close"},
            timeout=15,
        )

    def client_credentials(self) -> requests.Response:
        return self.post("token", grant_type="client_credentials")

    def api_read(self) -> requests.Response:
        return requests.get(
            f"{self.served.url}/api/v1/tenants/{self.tenant.slug}/clients",
            headers={"Authorization": f"Bearer {self.api_key}", "Connection": "close"},
            timeout=15,
        )

    def sign_in(self) -> tuple[Browser, dict[str, str], str]:
        """A browser through the code flow: it, the redirect's parameters, the PKCE verifier."""
        browser = Browser(requests.Session(), self.issuer)
        verifier, challenge = pkce_pair()
        query = browser.run(
            self.email, PASSWORD, **code_request(self.client_id, challenge, scope=SCOPE)
        )
        return browser, query, verifier

    def redeem(self, code: str, verifier: str) -> requests.Response:
        return self.post(
            "token",
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT,
            code_verifier=verifier,
        )


D = TypeVar("D", bound=Deployment)


@contextmanager
def deployed(
    kind: type[D], directory: Path, settings: Settings, port: int, **extras: Any
) -> Iterator[D]:
    """Migrate, start gunicorn (WORKERS x THREADS) on `port`, make a tenant with a client of
    every grant, a person and an API key; a `kind` of deployment with `extras`. Stops it all
    afterwards."""
    services = build_services(settings, create_kek=True)
    upgrade(services.engine)
    try:
        served = start(
            Installation(directory, environ_of(settings)), port, workers=WORKERS, threads=THREADS
        )
        try:
            make = Factory(services, served.url)
            tenant = make.tenant()
            issued = make.client(
                tenant,
                grant_types=("authorization_code", "refresh_token", "client_credentials"),
                redirect_uris=(REDIRECT,),
                scopes=("openid", "profile", "offline_access", "read"),
            )
            user = make.user(tenant, password=PASSWORD)
            api_key = create_api_key(services.uow(), OPERATOR, tenant, "faults", None)
            yield kind(
                served=served,
                services=services,
                tenant=tenant,
                issuer=make.issuer(tenant),
                client_id=issued.client.client_id,
                secret=issued.secret or "",
                email=user.email,
                api_key=api_key.secret,
                **extras,
            )
        finally:
            served.stop()
    finally:
        services.close()


def assert_no_errors(log: str) -> None:
    """Whatever the fault, the server never crashed on a request nor answered 500."""
    assert "Traceback" not in log, log[-5000:]
    assert not re.search(r" 500$", log, re.MULTILINE), log[-5000:]


def in_parallel(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(lambda call: call(), calls))
