"""The app under real gunicorn gthread workers, as the Procfile runs it, for fault tests.

Only there do per-thread store connections exist (Werkzeug's test server makes a thread per
request), so a fault test that must reach "the first request on each worker thread" runs here.
Tenants, clients and users are made in the test process through the real services, on the
same database, store and key-encryption key as the server's.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from idp.models.schema import upgrade
from idp.services.container import Services, build_services
from idp.settings import Settings
from tests.support.cli import BIN, REPO, clean_environ

WORKERS = 2
THREADS = 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@dataclass(frozen=True)
class Served:
    url: str
    services: Services  # the test process's own, on the server's database and store
    log: Path

    def log_text(self) -> str:
        return self.log.read_text()


@contextmanager
def gunicorn(directory: Path, settings: Settings, port: int) -> Iterator[Served]:
    """Migrate, start gunicorn (WORKERS x THREADS), wait for /healthz; stop it afterwards."""
    services = build_services(settings, create_kek=True)
    upgrade(services.engine)
    log = directory / "gunicorn.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py"), "idp:create_app()"],
            cwd=directory,
            env={
                **environ_of(settings),
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "WEB_CONCURRENCY": str(WORKERS),
                "GUNICORN_THREADS": str(THREADS),
                # The access log ends each line with the status, so a test can look for 500s.
                "IDP_ACCESS_LOG": "1",
                "GUNICORN_CMD_ARGS": "--access-logformat 'pid=%(p)s %(m)s %(U)s %(s)s'",
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, log)
        yield Served(url, services, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        services.usage.close()
        services.engine.dispose()


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or no worker booted yet
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not become healthy:\n{log.read_text()[-3000:]}")
