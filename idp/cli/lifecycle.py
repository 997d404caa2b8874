"""`idp serve|migrate|demo`: bring an installation up."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from idp.bytecode import lean_worker_environ
from idp.cli.base import emit, handles_errors, json_option, open_services
from idp.crypto.secrets import matches
from idp.models.schema import ensure_current, upgrade
from idp.services.accounts import users as user_service
from idp.services.container import Services
from idp.services.errors import NotFound
from idp.services.oauth_clients import clients as client_service
from idp.services.oauth_clients.clients import ClientSpec
from idp.services.tenancy import tenants as tenant_service
from idp.services.tenancy.tenant_settings import update_settings
from idp.services.tenancy.tenants import TenantView
from idp.serving import SERVERS, granian_argv

# Found next to the code, like migrations/: `idp serve` works from any working directory.
GUNICORN_CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
DEMO_FILE = Path("var/demo.json")
DEMO_TENANT = "demo"
DEMO_CLIENT = "Demo app"
DEMO_EMAIL = "demo@example.com"


@click.command()
@click.option("--new", "new_revision", metavar="MESSAGE", help="Autogenerate a new revision.")
@handles_errors
def migrate(new_revision: str | None) -> None:
    """Create the KEK if needed and upgrade the database to the newest revision."""
    container = open_services(create_kek=True, migrated=False)
    upgrade(container.engine)
    if new_revision:
        from alembic import command  # only developers writing migrations need this path

        from idp.models.schema import alembic_config

        command.revision(alembic_config(container.engine), message=new_revision, autogenerate=True)
    click.echo("database is up to date", err=True)


@click.command()
@click.option("--port", type=int, envvar="PORT", default=5000, show_default=True)
@click.option(
    "--workers",
    type=int,
    envvar="WEB_CONCURRENCY",
    help="Default: 2 per CPU under gunicorn, 1 under granian; at most 4.",
)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default="gunicorn",
    show_default=True,
    help="gunicorn (the Procfile's) or granian (faster HTTP handling; README: Deployment).",
)
@click.option(
    "--control-socket",
    type=click.Path(dir_okay=False),
    envvar="GUNICORN_CONTROL_SOCKET",
    help="Open gunicorn's control socket (gunicornc -s PATH) here. Default: none.",
)
@handles_errors
def serve(port: int, workers: int | None, server: str, control_socket: str | None) -> None:
    """Serve with gunicorn, as the Procfile does, or with granian."""
    open_services()  # fails here, in one clear line, on bad settings or an unmigrated database
    env = {**os.environ, "PORT": str(port)}
    env.update(lean_worker_environ(env))
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    if server == "granian":
        if control_socket:
            raise click.UsageError("--control-socket is gunicorn's; granian has none")
        granian = _executable("granian")
        os.execve(granian, granian_argv(granian, env), env)  # noqa: S606
    if control_socket:
        # A path of this instance's own: gunicorn.conf.py explains why there is no default.
        env["GUNICORN_CONTROL_SOCKET"] = os.path.abspath(control_socket)
    gunicorn = _executable("gunicorn")
    os.execve(gunicorn, [gunicorn, "-c", str(GUNICORN_CONF), "idp:create_app()"], env)  # noqa: S606


def _executable(name: str) -> str:
    """The server installed beside this Python (the virtualenv's), else the one on PATH."""
    return shutil.which(name, path=os.path.dirname(sys.executable)) or shutil.which(name) or name


@dataclass
class DemoCredentials:
    client_id: str
    client_secret: str
    email: str
    password: str


@click.command()
@json_option
@handles_errors
def demo(as_json: bool) -> None:
    """Create (or reuse) the demo tenant, client and user, and print how to use them."""
    container = open_services(create_kek=True, migrated=False)
    upgrade(container.engine)
    ensure_current(container.engine)
    tenant = _demo_tenant(container)
    credentials = _demo_credentials(container, tenant)
    issuer = f"{container.settings.server.public_url}/t/{tenant.slug}"
    data = {
        "start_here": f"{container.settings.server.public_url}/",
        "account_page": f"{issuer}/account",
        "issuer": issuer,
        "discovery": f"{issuer}/.well-known/openid-configuration",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "user_email": credentials.email,
        "user_password": credentials.password,
        "credentials_file": str(DEMO_FILE),
        "mail": "idp mail list, then idp mail show ID (the demo writes mail to the outbox)",
        "try": (
            f"curl -s -u '{credentials.client_id}:{credentials.client_secret}' "
            f"-d grant_type=client_credentials {issuer}/token"
        ),
    }
    emit(data, as_json)


def _demo_tenant(container: Services) -> TenantView:
    """The demo tenant, open to sign-up so a newcomer can try registration too."""
    try:
        return tenant_service.get_tenant(container.uow(), DEMO_TENANT)
    except NotFound:
        tenant_service.create_tenant(container.uow(), container.kek, DEMO_TENANT, "Demo")
        update_settings(
            container.uow(),
            DEMO_TENANT,
            {},
            {"self_registration": True},
            container.settings.tokens,
        )
        return tenant_service.get_tenant(container.uow(), DEMO_TENANT)


def _demo_credentials(container: Services, tenant: TenantView) -> DemoCredentials:
    """Reuse var/demo.json when it still matches the database; otherwise (re)issue secrets.

    The saved secret is checked against the stored digest: after `idp clients rotate-secret`
    (or a database reset) the file is stale, and printing it would give a curl line that fails.
    """
    saved = _load_saved()
    existing = {c.name: c for c in client_service.list_clients(container.uow(), tenant)}
    client = existing.get(DEMO_CLIENT)
    if (
        saved
        and client
        and saved.client_id == client.client_id
        and matches(saved.client_secret, client.secret_digest)
    ):
        return saved
    if client is None:
        issued = client_service.create_client(
            container.uow(),
            tenant,
            ClientSpec(
                name=DEMO_CLIENT,
                grant_types=("client_credentials",),
                scopes=("demo:read", "demo:write"),
            ),
        )
    else:
        issued = client_service.rotate_secret(container.uow(), tenant, client.client_id)
    assert issued.secret is not None
    password = secrets.token_urlsafe(12)
    try:
        user_service.find_user(container.uow(), tenant, DEMO_EMAIL)
        user_service.set_password(
            container.uow(), container.passwords, tenant, DEMO_EMAIL, password
        )
    except NotFound:
        user = user_service.create_user(
            container.uow(), container.passwords, tenant, DEMO_EMAIL, password, name="Demo User"
        )
        user_service.update_user(container.uow(), tenant, user.subject, {"email_verified": True})
    credentials = DemoCredentials(issued.client.client_id, issued.secret, DEMO_EMAIL, password)
    _save(credentials)
    return credentials


def _load_saved() -> DemoCredentials | None:
    try:
        return DemoCredentials(**json.loads(DEMO_FILE.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _save(credentials: DemoCredentials) -> None:
    DEMO_FILE.parent.mkdir(parents=True, exist_ok=True)
    DEMO_FILE.unlink(missing_ok=True)
    fd = os.open(DEMO_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials.__dict__, handle, indent=2)
