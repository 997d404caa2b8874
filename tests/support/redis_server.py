"""A Redis server of a test's own, on a free loopback port, that the test may restart or stop.

The machine's shared Redis cannot be restarted by a test without disturbing every other test;
this one keeps nothing on disk, like a production Redis without persistence, so a restart
comes back empty. `redis-server` comes from the machine's packages (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis

from tests.support.ports import free_port

START_TIMEOUT = 10.0


def redis_server_executable() -> str:
    """The machine's `redis-server`; without it the test is skipped, or fails where the
    services are required (IDP_TEST_REQUIRE_SERVICES=1)."""
    executable = shutil.which("redis-server")
    if executable is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("IDP_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return executable


def launch(arguments: Sequence[str], client: Callable[[], redis.Redis]) -> subprocess.Popen[bytes]:
    """Start `redis-server` with `arguments` and wait until `client()` answers a PING; stop it
    again if it never does."""
    process = subprocess.Popen(
        [redis_server_executable(), *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client().ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                terminate(process)
                raise
            time.sleep(0.05)


def terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


class RedisServer:
    """One `redis-server` process; `url` stays the same across restarts."""

    def __init__(self, directory: Path, *extra: str) -> None:
        redis_server_executable()  # skipped or failed here, before the test builds on it
        self._directory = directory
        self._extra = extra
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self._process is None, "already running"
        arguments = [
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._directory),
            *self._extra,
        ]  # fmt: skip
        self._process = launch(
            arguments, lambda: redis.Redis(port=self.port, socket_connect_timeout=0.5)
        )

    def stop(self) -> None:
        terminate(self._process)
        self._process = None

    def restart(self) -> None:
        """Stop and start again: it comes back empty, as Redis without persistence does."""
        self.stop()
        self.start()

    def flushall(self) -> None:
        redis.Redis(port=self.port).flushall()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)
