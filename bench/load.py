"""The load generator (wrk, pinned to CPU 1) and the scenarios it drives.

wrk keeps every connection alive (HTTP/1.1) and measures latency per request; a Lua script
(`wrk/report.lua`) counts every response that is not a 200, since a run with errors is invalid.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.server import TENANT, Credentials, Provisioned, Server

LOAD_CPU = "1"
REPORT_LUA = Path(__file__).resolve().parent / "wrk" / "report.lua"
FORM = "application/x-www-form-urlencoded"

Check = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    path: str
    target: float  # requests/s per server core (issue 2, item 11)
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    check: Check | None = None  # returns what is wrong with one sample response, or None
    script: str | None = None  # Lua that makes each request itself (instead of the fields above)

    @property
    def method(self) -> str:
        return "POST" if self.body is not None else "GET"


@dataclass(frozen=True)
class Measurement:
    scenario: Scenario
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    not_200: int
    socket_errors: int
    cpu_seconds: float  # used by the server during the run: others may take part of CPU 0
    per_cpu_second_runs: tuple[float, ...] = ()  # every run's, when this is the median of several

    @property
    def runs_text(self) -> str:
        runs = self.per_cpu_second_runs or (self.rate_per_cpu_second,)
        return ", ".join(f"{rate:,.0f}" for rate in runs)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def rate_per_cpu_second(self) -> float:
        """What one core fully ours would serve: robust against other load on the machine."""
        return self.requests / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def valid(self) -> bool:
        return self.not_200 == 0 and self.socket_errors == 0 and self.requests > 0


def ensure_wrk() -> str:
    """wrk from PATH, installed with apt-get when missing (Debian/Ubuntu)."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    install = [*sudo, "apt-get", "install", "-y", "wrk"]
    if subprocess.run(install, check=False).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update"], check=True)
        subprocess.run(install, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def basic(credentials: Credentials) -> str:
    pair = f"{credentials.client_id}:{credentials.client_secret}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def jwt_alg(expected: str) -> Check:
    def check(document: dict[str, Any]) -> str | None:
        token = str(document.get("access_token", ""))
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return None if header.get("alg") == expected else f"token signed {header.get('alg')}"

    return check


def scenarios(server: Server, clients: Provisioned, token: str) -> list[Scenario]:
    """The five measured requests; `token` is a live RS256 access token of `clients.rs256`."""
    base = f"/t/{TENANT}"

    def token_request(credentials: Credentials) -> dict[str, str]:
        return {"Authorization": basic(credentials), "Content-Type": FORM}

    return [
        Scenario(
            "token_rs256", "Client credentials, RS256 access token", f"{base}/token", 900,
            "grant_type=client_credentials", token_request(clients.rs256), jwt_alg("RS256"),
        ),
        Scenario(
            "token_es256", "Client credentials, ES256 access token", f"{base}/token", 2000,
            "grant_type=client_credentials", token_request(clients.es256), jwt_alg("ES256"),
        ),
        Scenario(
            "introspect", "Introspection of a valid token", f"{base}/introspect", 2000,
            f"token={token}", token_request(clients.rs256),
            lambda d: None if d.get("active") is True else "token not active",
        ),
        Scenario(
            "jwks", "JWKS", f"{base}/jwks.json", 4000,
            check=lambda d: None if d.get("keys") else "no keys",
        ),
        Scenario(
            "discovery", "Discovery", f"{base}/.well-known/openid-configuration", 4000,
            check=lambda d: None if d.get("issuer") == server.issuer else "wrong issuer",
        ),
    ]  # fmt: skip


# The floor app (bench/floor.py) answers this, like any path, with a fixed body.
FLOOR = Scenario(
    "floor", "Trivial WSGI app (the server's floor)", "/", 0,
    check=lambda d: None if d == {"keys": []} else "not the floor app",
)  # fmt: skip


def request_once(server: Server, scenario: Scenario) -> dict[str, Any]:
    """One request outside the load run: must be a 200 whose body passes the scenario's check."""
    data = scenario.body.encode() if scenario.body is not None else None
    request = urllib.request.Request(
        server.url + scenario.path, data=data, headers=scenario.headers, method=scenario.method
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # raises on non-2xx
        if response.status != 200:
            raise RuntimeError(f"{scenario.name}: HTTP {response.status}")
        document: dict[str, Any] = json.loads(response.read())
    problem = scenario.check(document) if scenario.check else None
    if problem:
        raise RuntimeError(f"{scenario.name}: {problem}")
    return document


def lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def wrk_script(scenario: Scenario) -> str:
    if scenario.script is not None:
        return scenario.script + "\n" + REPORT_LUA.read_text()
    lines = [f"wrk.method = {lua_string(scenario.method)}"]
    if scenario.body is not None:
        lines.append(f"wrk.body = {lua_string(scenario.body)}")
    lines += [
        f"wrk.headers[{lua_string(name)}] = {lua_string(value)}"
        for name, value in scenario.headers.items()
    ]
    return "\n".join(lines) + "\n" + REPORT_LUA.read_text()


def run_wrk(
    wrk: str, server: Server, scenario: Scenario, connections: int, seconds: int
) -> Measurement:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(scenario))
    cpu_before = server.cpu_seconds()
    try:
        result = subprocess.run(
            ["taskset", "-c", LOAD_CPU, wrk, "-t1", f"-c{connections}", f"-d{seconds}s",
             "--timeout", "10s", "-s", script.name, server.url + scenario.path],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        os.unlink(script.name)
    cpu_seconds = server.cpu_seconds() - cpu_before
    line = next(
        (line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON ")), None
    )
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    return Measurement(
        scenario=scenario,
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        not_200=raw["not_200"],
        socket_errors=raw["socket_errors"],
        cpu_seconds=cpu_seconds,
    )
