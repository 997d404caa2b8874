"""gunicorn instances of the real app, started as the Procfile starts them, for tests that need
the production server (several instances, control sockets, access logs)."""

from __future__ import annotations

import re
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.cli import BIN, REPO, Installation

# The access log names the instance's port and the worker (pid) that answered each request.
ACCESS_LOG_FORMAT = "pid=%(p)s %(m)s %(U)s %(s)s"
GUNICORN = [str(BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py"), "idp:create_app()"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Instance:
    """One running gunicorn master and its workers, with the log they write."""

    url: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text()

    def requests_logged(self, method: str, path: str) -> int:
        """How many requests for `path` (without its query) this instance's access log shows."""
        return len(re.findall(rf"pid=<\d+> {method} {re.escape(path)} ", self.log_text()))

    def stop(self) -> None:
        """SIGTERM lets gunicorn stop its workers gracefully; SIGKILL if that hangs."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(
    install: Installation,
    port: int,
    workers: int = 2,
    command: Sequence[str] = GUNICORN,
    **variables: str,
) -> Instance:
    """Start `command` (gunicorn by default) in the installation's directory, serving `port` on
    127.0.0.1 with the access log on, and wait until it answers /healthz."""
    url = f"http://127.0.0.1:{port}"
    log = install.directory / f"gunicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            list(command),
            cwd=install.directory,
            env={
                **install.environ,
                "HOST": "127.0.0.1",
                "PORT": str(port),
                "WEB_CONCURRENCY": str(workers),
                "IDP_ACCESS_LOG": "1",
                "GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_LOG_FORMAT}'",
                **variables,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    instance = Instance(url, port, log, process)
    try:
        wait_until_healthy(instance)
    except BaseException:
        instance.stop()
        raise
    return instance


def wait_until_healthy(instance: Instance) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {instance.process.returncode}:\n{_tail(instance)}")
        try:
            if requests.get(f"{instance.url}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or no worker booted yet
            pass
        time.sleep(0.2)
    pytest.fail(f"gunicorn did not become healthy:\n{_tail(instance)}")


def _tail(instance: Instance) -> str:
    return instance.log_text()[-3000:]
