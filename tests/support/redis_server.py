"""A Redis server of a test's own, on a free loopback port, that the test may restart or stop.

The machine's shared Redis cannot be restarted by a test without disturbing every other test;
this one keeps nothing on disk, like a production Redis without persistence, so a restart
comes back empty. `redis-server` comes from the machine's packages (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

START_TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """One `redis-server` process; `url` stays the same across restarts."""

    def __init__(self, directory: Path, *extra: str) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            message = "redis-server is not installed (apt-get install redis-server)"
            if os.environ.get("IDP_TEST_REQUIRE_SERVICES") == "1":
                pytest.fail(message)
            pytest.skip(message)
        self._executable = executable
        self._directory = directory
        self._extra = extra
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self._process is None, "already running"
        command = [
            self._executable,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._directory),
            *self._extra,
        ]  # fmt: skip
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        self._process.wait(timeout=10)
        self._process = None

    def restart(self) -> None:
        """Stop and start again: it comes back empty, as Redis without persistence does."""
        self.stop()
        self.start()

    def flushall(self) -> None:
        redis.Redis(port=self.port).flushall()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)
