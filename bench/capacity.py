"""The human side: full browser sign-ins (bench/browser.py) and the refresh grant.

A sign-in's physical limit is its password hash: one argon2id verification at the shipped cost,
timed on CPU 0 in the same run. The share of that limit a core reaches is sign-ins per server
CPU-second times one verification's time. The refresh row rotates real refresh tokens obtained
by those sign-ins: wrk's script keeps a pool, sends each token once and puts back the one each
answer brings (a token sent twice would be a replay, refused after the grace window).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from bench.backends import Backend
from bench.load import FORM, LOAD_CPU, Scenario, basic, lua_string
from bench.server import ROOT, TENANT, Credentials, Server, checkout_env, idp

PASSWORD = "a bench password of typical length"
PEOPLE = 16
CONCURRENCY = 4
REDIRECT = "https://rp.bench.example/callback"


@dataclass(frozen=True)
class People:
    client: Credentials
    emails: list[str]


@dataclass(frozen=True)
class SignIns:
    count: int
    seconds: float
    cpu_seconds: float  # the server's, during the sign-ins
    failures: int
    first_failures: list[str]
    refresh_tokens: list[str]

    @property
    def per_cpu_second(self) -> float:
        return self.count / self.cpu_seconds if self.cpu_seconds else 0.0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def provision_people(backend: Backend) -> People:
    """A confidential web client with refresh tokens, and a pool of people with a password."""
    created = idp(
        backend, "clients", "create", "--tenant", TENANT, "--name", "web",
        "--grant-types", "authorization_code,refresh_token", "--redirect-uri", REDIRECT,
        "--scopes", "openid", "--always-issue-refresh-token", "--json",
    )  # fmt: skip
    emails = [f"person{number}@bench.example" for number in range(PEOPLE)]
    for email in emails:
        idp(backend, "users", "create", "--tenant", TENANT, "--email", email,
            "--password", PASSWORD, "--json")  # fmt: skip
    return People(Credentials(created["client_id"], created["client_secret"]), emails)


def sign_ins(
    server: Server, people: People, seconds: int, flow: str = "ours", issuer: str | None = None
) -> SignIns:
    """CONCURRENCY browsers on CPU 1 signing the pool in, one after another, for `seconds`;
    `flow` "reference" for node-oidc-provider at `issuer`."""
    before = server.cpu_seconds()
    result = subprocess.run(
        ["taskset", "-c", LOAD_CPU, sys.executable, "-m", "bench.browser", flow,
         issuer or server.issuer,
         people.client.client_id, people.client.client_secret, PASSWORD, str(seconds),
         str(CONCURRENCY), *people.emails],
        cwd=ROOT, env=checkout_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    cpu_seconds = server.cpu_seconds() - before
    raw = json.loads(result.stdout.strip().splitlines()[-1])
    return SignIns(
        raw["sign_ins"], raw["seconds"], cpu_seconds, raw["failures"], raw["first_failures"],
        raw["refresh_tokens"],
    )  # fmt: skip


def refresh_scenario(client: Credentials, tokens: list[str], path: str) -> Scenario:
    """The refresh grant over a pool of live refresh tokens, each sent once (module doc)."""
    pool = ", ".join(lua_string(token) for token in tokens)
    headers = {"Authorization": basic(client), "Content-Type": FORM}
    header_table = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items())
    script = f"""
local tokens = {{ {pool} }}
local headers = {{ {header_table} }}
function request()
  local token = table.remove(tokens) or "exhausted"
  return wrk.format("POST", nil, headers, "grant_type=refresh_token&refresh_token=" .. token)
end
function after_response(status, body)
  local token = string.match(body, '"refresh_token":%s*"([^"]+)"')
  if token then table.insert(tokens, token) end
end
"""
    return Scenario("refresh", "Refresh grant (rotation)", path, 0, script=script)
