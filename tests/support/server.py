"""A real HTTP server on 127.0.0.1 running the real app: in a background thread, or granian.

The protocol-endpoint tests run against both (tests/conftest.py, `server_kind`): the
in-process server lets a test share the app's services, and granian (`idp serve --server
granian`, in its own processes on the same database and store) proves the supported faster
server behaves the same.
"""

from __future__ import annotations

import functools
import os
import pickle
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from werkzeug.serving import make_server

from idp import create_app
from idp.bytecode import lean_worker_environ
from idp.services.container import Services
from idp.serving import granian_argv
from tests.support.backends import Backend, postgres_with_redis
from tests.support.cli import BIN, REPO, clean_environ
from tests.support.granian_app import SETTINGS_VARIABLE

BOOT_TIMEOUT = 60.0
GRANIAN_WORKERS = 2  # several processes, as in production: caches must agree across them


@dataclass
class LiveServer:
    url: str
    services: Services
    stop: Callable[[], None]

    def issuer(self, slug: str) -> str:
        return f"{self.url}/t/{slug}"


def start_server(services: Services, port: int) -> LiveServer:
    app = create_app(services=services)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)

    return LiveServer(f"http://127.0.0.1:{port}", services, stop)


@functools.cache
def lean_bytecode() -> dict[str, str]:
    """The workers' lean bytecode (idp/bytecode.py), compiled once a test session: this process
    has loaded every module a worker loads, and far more, so each check would repeat it."""
    return lean_worker_environ(os.environ)


def start_granian(services: Services, port: int, directory: Path) -> LiveServer:
    """granian with the command line `idp serve --server granian` uses, serving the app built
    from `services.settings` in each worker; waits until it answers /healthz."""
    settings_file = directory / "granian-settings.pickle"
    settings_file.write_bytes(pickle.dumps(services.settings))
    environ = clean_environ(
        HOST="127.0.0.1",
        PORT=str(port),
        WEB_CONCURRENCY=str(GRANIAN_WORKERS),
        PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        **{SETTINGS_VARIABLE: str(settings_file)},
    )
    environ.update(lean_bytecode())  # as `idp serve` starts its workers
    command = granian_argv(str(BIN / "granian"), environ, "tests.support.granian_app:app")
    log = directory / f"granian-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=REPO, env=environ, stdout=output, stderr=subprocess.STDOUT
        )

    def stop() -> None:
        """SIGTERM: granian stops its workers gracefully; SIGKILL if that hangs."""
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"granian exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return LiveServer(url, services, stop)
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.05)
    stop()
    raise RuntimeError(f"granian did not serve:\n{log.read_text()[-3000:]}")


@contextmanager
def served_on_own_redis(
    redis_url: str, directory: Path, start: Callable[[Backend, Path], LiveServer]
) -> Iterator[LiveServer]:
    """A server `start` builds on PostgreSQL (own schema) and a test's own Redis, which the
    test may stop; stopped, closed and its schema dropped afterwards."""
    databases = postgres_with_redis(redis_url)
    live = start(next(databases), directory)
    try:
        yield live
    finally:
        live.stop()
        live.services.close()
        databases.close()
