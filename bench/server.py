"""Provision a tenant with the `idp` command and serve it exactly as the Procfile does.

Only the CPU is imposed: `taskset -c 0` pins the gunicorn master and every worker it forks to
CPU 0, so the figures are per server core.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.backends import Backend

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SERVER_CPU = "0"
TENANT = "bench"
SERVERS = ("gunicorn", "granian")
GRANIAN_APP = "idp.serving:granian_app"
FLOOR_APP = "bench.floor:app"
FLOOR_FACTORY = "bench.floor:factory"
# granian's command line and its workers' lean bytecode resolved in the pinned process, as
# `idp serve --server granian` does: the default worker count follows the CPUs the process may
# run on.
GRANIAN_EXEC = (
    "import os, sys; from idp.serving import granian_argv; "
    "from idp.bytecode import lean_worker_environ; "
    "env = {**os.environ, **lean_worker_environ(os.environ)}; "
    "argv = granian_argv(sys.argv[1], env, sys.argv[2]); os.execve(argv[0], argv, env)"
)


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class Provisioned:
    rs256: Credentials
    es256: Credentials


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/t/{TENANT}"

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the master's children (taskset exec'd into the master)."""
        children: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            children += [int(pid) for pid in (task / "children").read_text().split()]
        return sorted(children)

    def worker_threads(self) -> int:
        """Threads of one worker as the kernel counts them (request threads + main + helpers)."""
        pids = self.worker_pids()
        return len(list(Path(f"/proc/{pids[0]}/task").iterdir())) if pids else 0

    def cpu_seconds(self) -> float:
        """CPU time used so far by the master and the workers (all their threads)."""
        ticks = 0
        for pid in [self.process.pid, *self.worker_pids()]:
            # Fields after the ")" that ends the command name; utime and stime are 14 and 15.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def worker_rss_mb(self) -> list[float]:
        """VmRSS of each worker, in MB (1 MB = 2^20 bytes)."""
        sizes = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes


def checkout_env() -> dict[str, str]:
    """This checkout's code first, whatever the virtualenv's editable install points at."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def idp(backend: Backend, *args: str) -> dict[str, str]:
    """Run one `idp ... --json` command against the backend and return its JSON output."""
    result = subprocess.run(
        [str(BIN / "idp"), *args],
        cwd=ROOT,
        env={**checkout_env(), **backend.env},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"idp {' '.join(args)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout) if "--json" in args else {}


def provision(backend: Backend) -> Provisioned:
    idp(backend, "migrate")
    idp(backend, "tenants", "create", "--slug", TENANT, "--name", "Bench", "--json")

    def client(name: str, *extra: str) -> Credentials:
        created = idp(
            backend, "clients", "create", "--tenant", TENANT, "--name", name,
            "--grant-types", "client_credentials", "--scopes", "a b", *extra, "--json",
        )  # fmt: skip
        return Credentials(created["client_id"], created["client_secret"])

    return Provisioned(rs256=client("rs"), es256=client("es", "--access-token-alg", "ES256"))


# One RSA-2048 PKCS#1 v1.5 signature, timed on the server's CPU: the floor of an RS256 token
# request, and a gauge of how much of CPU 0 other work on the machine left us.
CALIBRATION = """
import time
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
key = rsa.generate_private_key(65537, 2048)
times = []
for _ in range(300):
    start = time.perf_counter()
    key.sign(b"calibration", padding.PKCS1v15(), hashes.SHA256())
    times.append(time.perf_counter() - start)
print(sorted(times)[len(times) // 2] * 1000)
"""


# One argon2id verification at the cost the server is shipped with (config.toml [passwords], as
# the server reads it), timed on the server's CPU: what each password sign-in costs (DESIGN §6
# asks for at most about 50 ms on one core). CPU time, as the sign-in row's server time is: the
# wall clock also counts whatever else ran on CPU 0 meanwhile (a busy machine showed 60-160 ms
# for a 26-31 ms verification).
PASSWORD_VERIFICATION = """
import time
from idp.crypto.passwords import Passwords
from idp.settings import load_settings
cost = load_settings().passwords
passwords = Passwords(cost.time_cost, cost.memory_kib, cost.parallelism)
stored = passwords.hash("a password of typical length")
times = []
for _ in range(21):
    start = time.process_time()
    assert passwords.verify(stored, "a password of typical length")
    times.append(time.process_time() - start)
print(cost.memory_kib, cost.time_cost, cost.parallelism, sorted(times)[len(times) // 2] * 1000)
"""


def rsa_sign_ms() -> float:
    """Median time of one RSA-2048 signature on CPU 0, in milliseconds."""
    result = subprocess.run(
        ["taskset", "-c", SERVER_CPU, sys.executable, "-c", CALIBRATION],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout)


@dataclass(frozen=True)
class PasswordCost:
    memory_kib: int
    time_cost: int
    parallelism: int
    verify_ms: float  # median of one verification on CPU 0


def password_cost(backend: Backend) -> PasswordCost:
    """The shipped argon2id parameters and one verification's median time on CPU 0."""
    result = subprocess.run(
        ["taskset", "-c", SERVER_CPU, sys.executable, "-c", PASSWORD_VERIFICATION],
        cwd=ROOT,
        env={**checkout_env(), **backend.env},
        capture_output=True,
        text=True,
        check=True,
    )
    memory, time_cost, parallelism, verify_ms = result.stdout.split()
    return PasswordCost(int(memory), int(time_cost), int(parallelism), float(verify_ms))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


UNREACHED_LIMIT = 10**12


def server_env(backend: Backend, port: int, overrides: dict[str, str]) -> dict[str, str]:
    """The production environment plus the backend's `IDP_*` variables and any tuning asked for."""
    return {
        **checkout_env(),
        **backend.env,
        "IDP_SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        # All the load comes from one address: the limits per address must not refuse it. Each
        # request is still counted, in the worker, as in production; a source this busy would
        # also add its count to the store once per batch (services/rate_limits.BatchedLimiter).
        "IDP_RATE_LIMITS__TOKEN_PER_MINUTE": str(UNREACHED_LIMIT),
        "IDP_RATE_LIMITS__SIGN_INS_STARTED_PER_MINUTE": str(UNREACHED_LIMIT),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **overrides,
    }


@contextmanager
def serve(
    backend: Backend, overrides: dict[str, str], kind: str = "gunicorn", floor: bool = False
) -> Iterator[Server]:
    """Our app, or the trivial floor app (bench/floor.py), under `kind` on CPU 0."""
    port = free_port()
    log = backend.directory / f"{kind}{'-floor' if floor else ''}.log"
    env = server_env(backend, port, overrides)
    command = ["taskset", "-c", SERVER_CPU, *server_command(kind, floor)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(server)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM (a graceful stop), then SIGKILL if it hangs."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def server_command(kind: str, floor: bool = False) -> list[str]:
    """gunicorn as the Procfile starts it, or granian as `idp serve --server granian` does."""
    if kind == "granian":
        target = FLOOR_FACTORY if floor else GRANIAN_APP
        return [sys.executable, "-c", GRANIAN_EXEC, str(BIN / "granian"), target]
    words = gunicorn_command()
    return [*words[:-1], FLOOR_APP] if floor else words


def gunicorn_command() -> list[str]:
    """The Procfile's `web:` line, with gunicorn from this virtualenv."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            words = shlex.split(line.removeprefix("web:"))
            if words[0] != "gunicorn":
                raise RuntimeError("the Procfile's web process is no longer gunicorn")
            return [str(BIN / "gunicorn"), *words[1:]]
    raise RuntimeError("the Procfile has no web process")


def wait_ready(server: Server, timeout: float = 60, path: str = "/readyz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited: see {server.log}\n{server.log.read_text()}")
        try:
            with urllib.request.urlopen(f"{server.url}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server was not ready after {timeout} s: see {server.log}")
