"""Real gunicorn serving the real app, started as the Procfile starts it (DESIGN §9).

One way for every test that needs the production server: several workers (processes, or
gthread workers with `threads`), an access log naming the worker that answered, an `idp serve`
command line instead of gunicorn's, and the worker processes found by pid so a crash test can
SIGKILL one and wait for the master to replace it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.cli import BIN, IDP, REPO, Installation

BOOT_TIMEOUT = 60.0
# The access log names the worker (pid) that answered each request and ends with the status,
# so a test can tell workers apart and look for 500s.
ACCESS_LOG_FORMAT = "pid=%(p)s %(m)s %(U)s %(s)s"
GUNICORN = (str(BIN / "gunicorn"), "-c", str(REPO / "gunicorn.conf.py"), "idp:create_app()")


@dataclass
class Gunicorn:
    """One running gunicorn master and its workers, with the log they write."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text()

    def log_tail(self) -> str:
        return self.log_text()[-3000:]

    def requests_logged(self, method: str, path: str) -> int:
        """How many requests for `path` (without its query) the access log shows."""
        return len(re.findall(rf"pid=<\d+> {method} {re.escape(path)} ", self.log_text()))

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
        """Wait for workers none of which is in `without` (killed ones) and a healthy answer;
        the workers' pids."""
        without = without or set()
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            workers = self.workers()
            if workers and not workers & without:
                try:
                    if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return workers
                except requests.RequestException:  # not listening yet, or no worker booted yet
                    pass
            time.sleep(0.05)
        pytest.fail(f"gunicorn did not serve:\n{self.log_tail()}")

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
    *,
    workers: int = 2,
    threads: int | None = None,
    access_log: bool = True,
    idp_serve: bool = False,
    control_socket: str | None = None,
    **variables: str,
) -> Gunicorn:
    """Start gunicorn in the installation's directory with its environment, serving `port` on
    127.0.0.1, and wait until it answers /healthz.

    `threads` makes the workers gthread workers with that many threads each; `variables` are
    more environment variables (IDP_* settings) for this instance alone. With `idp_serve` it is
    started as `make run` starts it, by `idp serve --port --workers`, which may be given its
    `control_socket` (a path of this instance's own, gunicorn.conf.py says why).
    """
    assert idp_serve or control_socket is None, "only `idp serve` takes a control socket"
    environ = {**install.environ, "HOST": "127.0.0.1"}
    if idp_serve:
        command = [str(IDP), "serve", "--port", str(port), "--workers", str(workers)]
        if control_socket is not None:
            command += ["--control-socket", control_socket]
    else:
        command = list(GUNICORN)
        environ |= {"PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    if threads is not None:
        environ["GUNICORN_THREADS"] = str(threads)
    if access_log:
        environ["IDP_ACCESS_LOG"] = "1"
        environ["GUNICORN_CMD_ARGS"] = f"--access-logformat '{ACCESS_LOG_FORMAT}'"
    log = install.directory / f"gunicorn-{port}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=install.directory,
            env=environ | variables,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Gunicorn(process, f"http://127.0.0.1:{port}", port, log)
    try:
        server.wait_until_serving()
    except BaseException:
        server.stop()
        raise
    return server


def kill(pid: int) -> None:
    """SIGKILL: no handler, no cleanup, as the kernel's OOM killer would."""
    os.kill(pid, signal.SIGKILL)
