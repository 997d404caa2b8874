"""Real gunicorn for crash tests: started as the Procfile does, its worker processes found by pid
so a test can SIGKILL one and wait for the master to replace it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.cli import BIN, REPO, Installation

BOOT_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Gunicorn:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def workers(self) -> set[int]:
        """Pids of the master's live children, read from /proc (Linux)."""
        children = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # gone meanwhile
                continue
            # The command name may hold spaces; the fields after its closing parenthesis don't.
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if int(ppid) == self.process.pid and state != "Z":
                children.add(int(entry.name))
        return children

    def wait_until_serving(self, without: set[int] | None = None) -> set[int]:
        """Wait for workers none of which is in `without` (killed ones) and a healthy answer."""
        without = without or set()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            workers = self.workers()
            if workers and not workers & without:
                try:
                    if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return workers
                except requests.RequestException:  # no worker accepting yet
                    pass
            time.sleep(0.05)
        raise AssertionError(f"gunicorn did not serve:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_gunicorn(install: Installation, url: str, workers: int, **variables: str) -> Gunicorn:
    port = url.rsplit(":", 1)[1]
    log = install.directory / f"gunicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py"), "idp:create_app()"],
            cwd=install.directory,
            env={
                **install.environ,
                "HOST": "127.0.0.1",
                "PORT": port,
                "WEB_CONCURRENCY": str(workers),
                **variables,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Gunicorn(process, url, log)
    server.wait_until_serving()
    return server


def kill(pid: int) -> None:
    """SIGKILL: no handler, no cleanup, as the kernel's OOM killer would."""
    os.kill(pid, signal.SIGKILL)
