"""node-oidc-provider, the reference each row is compared with, served beside us in the same run.

It is installed from npm into bench/reference/ (its own package.json and lock file, pinned to one
9.x release; node_modules is not committed) and started with `node bench/reference/server.mjs`
under `taskset -c 0`, like our server. Node runs JavaScript on one thread, so one process is the
fair comparison for one core; figures are compared per server CPU-second anyway.
Where Node or npm is missing, or the install fails, the reference is skipped and RESULTS.md
says why.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.load import FORM, Scenario, basic
from bench.server import SERVER_CPU, Credentials, Server, free_port, stop, wait_ready

FOLDER = Path(__file__).resolve().parent / "reference"
PACKAGE = "oidc-provider"


class ReferenceUnavailable(RuntimeError):
    """Node or npm is missing, or the pinned package cannot be installed; the message says so."""


def install() -> str:
    """Install the pinned package (npm ci from the lock file) and return node's path."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise ReferenceUnavailable(
            "Node.js and npm are not installed (node-oidc-provider needs them)"
        )
    result = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=FOLDER,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise ReferenceUnavailable(f"npm ci in {FOLDER} failed: {result.stderr.strip()[-500:]}")
    return node


def version() -> str:
    manifest = FOLDER / "node_modules" / PACKAGE / "package.json"
    return str(json.loads(manifest.read_text())["version"])


def node_version(node: str) -> str:
    return subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def new_client(name: str) -> Credentials:
    return Credentials(f"bench-{name}", secrets.token_urlsafe(32))


class Reference:
    """The running reference and its clients: one gets RS256 JWTs for a resource server, one
    opaque tokens (the only kind it introspects), one signs people in for refresh tokens."""

    def __init__(
        self, server: Server, jwt: Credentials, opaque: Credentials, web: Credentials
    ) -> None:
        self.server = server
        self.jwt = jwt
        self.opaque = opaque
        self.web = web  # sign-ins through its development interactions, refresh tokens

    def scenarios(self, ours: list[Scenario], opaque_token: str) -> dict[str, Scenario]:
        """The reference's request for each of our scenarios it has an equivalent of."""
        token_headers = {"Authorization": basic(self.jwt), "Content-Type": FORM}
        by_name = {scenario.name: scenario for scenario in ours}
        equivalents = {
            "token_rs256": ("/token", "grant_type=client_credentials", token_headers),
            "introspect": (
                "/token/introspection",
                f"token={opaque_token}",
                {"Authorization": basic(self.opaque), "Content-Type": FORM},
            ),
            "jwks": ("/jwks", None, {}),
            "discovery": ("/.well-known/openid-configuration", None, {}),
        }
        return {
            name: Scenario(
                name, by_name[name].title, path, by_name[name].target, body, headers,
                check=REFERENCE_CHECKS[name](self.server.url),
            )
            for name, (path, body, headers) in equivalents.items()
            if name in by_name
        }  # fmt: skip


REFERENCE_CHECKS = {
    "token_rs256": lambda _: (
        lambda d: None if d.get("access_token", "").count(".") == 2 else "not a JWT"
    ),
    "introspect": lambda _: lambda d: None if d.get("active") is True else "token not active",
    "jwks": lambda _: lambda d: None if d.get("keys") else "no keys",
    "discovery": lambda url: lambda d: None if d.get("issuer") == url else "wrong issuer",
}


@contextmanager
def serve_reference(node: str, directory: Path) -> Iterator[Reference]:
    """node-oidc-provider on CPU 0, NODE_ENV=production, until the block ends."""
    port = free_port()
    jwt, opaque, web = new_client("jwt"), new_client("opaque"), new_client("web")
    clients = {
        name: {"client_id": credentials.client_id, "client_secret": credentials.client_secret}
        for name, credentials in (("jwt", jwt), ("opaque", opaque), ("web", web))
    }
    log = directory / "reference.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU, node, "server.mjs", str(port), json.dumps(clients)],
            cwd=FOLDER,
            env={"PATH": str(Path(node).parent), "NODE_ENV": "production"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_ready(server, path="/.well-known/openid-configuration")
        yield Reference(server, jwt, opaque, web)
    finally:
        stop(process)
