"""`idp tenants|clients|users|keys`: the directory of each tenant."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from idp.cli.audit import record_operator_write
from idp.cli.base import emit, fail, handles_errors, json_option, open_services, tenant_of
from idp.services.accounts import password_reset
from idp.services.accounts import users as user_service
from idp.services.container import Services
from idp.services.oauth_clients import clients as client_service
from idp.services.oauth_clients.clients import ClientSpec, IssuedClient
from idp.services.tenancy import tenants as tenant_service
from idp.services.tenancy.tenants import TenantView, issuer_url
from idp.services.tokens import signing_keys
from idp.settings import SIGNING_ALGS

tenant_option = click.option("--tenant", "slug", required=True, help="Tenant slug.")


def _tenant_dict(tenant: TenantView, issuer: str) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "issuer": issuer,
        "signing_alg": tenant.signing_alg,
        "access_token_lifetime": tenant.access_token_lifetime,
        "created_at": tenant.created_at.isoformat(),
    }


def _issuer(container: Services, tenant: TenantView) -> str:
    return f"{container.settings.server.public_url}/t/{tenant.slug}"


@click.group()
def tenants() -> None:
    """Create and inspect tenants (each one its own issuer)."""


@tenants.command("create")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@json_option
@handles_errors
def tenants_create(slug: str, name: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_service.create_tenant(container.uow(), container.kek, slug, name)
    record_operator_write(container, "tenant.create", None, "tenant", tenant.slug)
    emit(_tenant_dict(tenant, _issuer(container, tenant)), as_json)


@tenants.command("list")
@json_option
@handles_errors
def tenants_list(as_json: bool) -> None:
    container = open_services()
    found = tenant_service.list_tenants(container.uow())
    emit([_tenant_dict(t, _issuer(container, t)) for t in found], as_json)


@tenants.command("show")
@click.argument("slug")
@json_option
@handles_errors
def tenants_show(slug: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    emit(_tenant_dict(tenant, _issuer(container, tenant)), as_json)


@click.group()
def clients() -> None:
    """Register and manage client applications."""


def _issued_dict(issued: IssuedClient) -> dict[str, Any]:
    data = issued.client.public_dict()
    if issued.secret:
        data["client_secret"] = issued.secret
    return data


def _split(values: str) -> tuple[str, ...]:
    return tuple(v for v in values.replace(",", " ").split() if v)


@clients.command("create")
@tenant_option
@click.option("--name", required=True)
@click.option("--grant-types", default="client_credentials", help="Comma-separated.")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_uris", multiple=True)
@click.option("--public", is_flag=True, help="No secret: token_endpoint_auth_method=none.")
@click.option("--auth-method", type=click.Choice(client_service.AUTH_METHODS))
@click.option("--scopes", default="", help='Space-separated, e.g. "api:read api:write".')
@click.option("--resource", "resources", multiple=True, help="Allowed RFC 8707 resource.")
@click.option("--jwks", "jwks_file", type=click.File(), help="File with the client's public JWKS.")
@click.option("--jwks-uri")
@click.option("--access-token-alg", type=click.Choice(SIGNING_ALGS))
@click.option("--id-token-alg", type=click.Choice(SIGNING_ALGS))
@click.option("--access-token-lifetime", type=int)
@click.option("--resource-server", is_flag=True, help="May introspect every token of the tenant.")
@click.option(
    "--application-type",
    type=click.Choice(client_service.APPLICATION_TYPES),
    default="web",
    show_default=True,
    help="native: private-use scheme or loopback redirects, any loopback port (RFC 8252).",
)
@click.option("--backchannel-logout-uri", help="Where logout tokens are POSTed (OIDC BCL).")
@click.option(
    "--backchannel-logout-session-required",
    is_flag=True,
    help="Logout tokens carry the session id (sid).",
)
@click.option(
    "--allowed-origin",
    "allowed_origins",
    multiple=True,
    help="Browser origin (https://app.example.com) allowed to call the token endpoint (CORS).",
)
@click.option("--skip-consent", is_flag=True, help="First-party: never ask for consent.")
@click.option(
    "--first-party",
    is_flag=True,
    help="May post e-mail and password to the authorization challenge endpoint.",
)
@click.option("--logo-uri", help="Shown on the consent page.")
@click.option(
    "--always-issue-refresh-token",
    is_flag=True,
    help="Refresh tokens even without the offline_access scope.",
)
@json_option
@handles_errors
def clients_create(
    slug: str,
    name: str,
    grant_types: str,
    redirect_uris: tuple[str, ...],
    post_logout_uris: tuple[str, ...],
    public: bool,
    auth_method: str | None,
    scopes: str,
    resources: tuple[str, ...],
    jwks_file: Any,
    jwks_uri: str | None,
    access_token_alg: str | None,
    id_token_alg: str | None,
    access_token_lifetime: int | None,
    resource_server: bool,
    application_type: str,
    backchannel_logout_uri: str | None,
    backchannel_logout_session_required: bool,
    allowed_origins: tuple[str, ...],
    skip_consent: bool,
    first_party: bool,
    logo_uri: str | None,
    always_issue_refresh_token: bool,
    as_json: bool,
) -> None:
    try:
        jwks = json.load(jwks_file) if jwks_file else None
    except ValueError:
        fail("--jwks: the file is not JSON")
    spec = ClientSpec(
        name=name,
        grant_types=_split(grant_types),
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_uris,
        public=public,
        auth_method=auth_method,
        scopes=_split(scopes),
        resources=resources,
        jwks=jwks,
        jwks_uri=jwks_uri,
        access_token_lifetime=access_token_lifetime,
        id_token_signed_response_alg=id_token_alg,
        access_token_signed_alg=access_token_alg,
        is_resource_server=resource_server,
        application_type=application_type,
        backchannel_logout_uri=backchannel_logout_uri,
        backchannel_logout_session_required=backchannel_logout_session_required,
        allowed_cors_origins=allowed_origins,
        skip_consent=skip_consent,
        first_party=first_party,
        logo_uri=logo_uri,
        always_issue_refresh_token=always_issue_refresh_token,
    )
    container = open_services()
    tenant = tenant_of(container, slug)
    issued = client_service.create_client(container.uow(), tenant, spec)
    record_operator_write(container, "client.create", tenant, "client", issued.client.client_id)
    emit(_issued_dict(issued), as_json)


@clients.command("list")
@tenant_option
@json_option
@handles_errors
def clients_list(slug: str, as_json: bool) -> None:
    container = open_services()
    found = client_service.list_clients(container.uow(), tenant_of(container, slug))
    emit([client.public_dict() for client in found], as_json)


@clients.command("show")
@tenant_option
@click.argument("client_id")
@json_option
@handles_errors
def clients_show(slug: str, client_id: str, as_json: bool) -> None:
    container = open_services()
    client = client_service.get_client(container.uow(), tenant_of(container, slug), client_id)
    emit(client.public_dict(), as_json)


@clients.command("rotate-secret")
@tenant_option
@click.argument("client_id")
@click.option(
    "--keep-old-for",
    type=click.IntRange(1, 30 * 24 * 3600),
    help="Seconds the old secret keeps working, so running instances can switch over.",
)
@json_option
@handles_errors
def clients_rotate_secret(
    slug: str, client_id: str, keep_old_for: int | None, as_json: bool
) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    keep_old_until = datetime.now(UTC) + timedelta(seconds=keep_old_for) if keep_old_for else None
    issued = client_service.rotate_secret(container.uow(), tenant, client_id, keep_old_until)
    record_operator_write(container, "client.rotate_secret", tenant, "client", client_id)
    emit(_issued_dict(issued), as_json)


@clients.command("delete")
@tenant_option
@click.argument("client_id")
@json_option
@handles_errors
def clients_delete(slug: str, client_id: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    client_service.delete_client(container.uow(), tenant, client_id)
    record_operator_write(container, "client.delete", tenant, "client", client_id)
    emit({"client_id": client_id, "deleted": True}, as_json)


@click.group()
def users() -> None:
    """Create and manage the people who sign in."""


def _attribute_values(pairs: tuple[str, ...]) -> dict[str, str]:
    """`NAME=VALUE` pairs as text, checked and converted by the tenant's declarations;
    `NAME=` (empty) removes a value."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            fail(f"--attribute: '{pair}' is not NAME=VALUE")
        values[name.strip()] = value
    return values


attribute_option = click.option(
    "--attribute",
    "attributes",
    multiple=True,
    metavar="NAME=VALUE",
    help="A profile attribute of the tenant (repeatable), e.g. company=Acme.",
)


def _read_password(password: str) -> str:
    """`-` reads the password from standard input, keeping it out of `ps` and shell history."""
    return sys.stdin.readline().rstrip("\n") if password == "-" else password


@users.command("create")
@tenant_option
@click.option("--email", required=True)
@click.option("--password", required=True, help="The password, or - to read it from stdin.")
@click.option("--name")
@click.option("--role", "roles", multiple=True)
@attribute_option
@json_option
@handles_errors
def users_create(
    slug: str,
    email: str,
    password: str,
    name: str | None,
    roles: tuple[str, ...],
    attributes: tuple[str, ...],
    as_json: bool,
) -> None:
    values = _attribute_values(attributes)
    container = open_services()
    tenant = tenant_of(container, slug)
    user = user_service.create_user(
        container.uow(),
        container.passwords,
        tenant,
        email,
        _read_password(password),
        name=name,
        roles=roles,
        create_missing_roles=True,
        attributes=values,
    )
    record_operator_write(container, "user.create", tenant, "user", user.subject)
    emit(user.public_dict(), as_json)


@users.command("list")
@tenant_option
@json_option
@handles_errors
def users_list(slug: str, as_json: bool) -> None:
    container = open_services()
    found = user_service.list_users(container.uow(), tenant_of(container, slug))
    emit([user.public_dict() for user in found], as_json)


@users.command("show")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_show(slug: str, email: str, as_json: bool) -> None:
    container = open_services()
    user = user_service.find_user(container.uow(), tenant_of(container, slug), email)
    emit(user.public_dict(), as_json)


@users.command("set-attributes")
@tenant_option
@click.argument("email")
@click.argument("pairs", nargs=-1, required=True, metavar="NAME=VALUE...")
@json_option
@handles_errors
def users_set_attributes(slug: str, email: str, pairs: tuple[str, ...], as_json: bool) -> None:
    """Set profile attribute values of a user; NAME= (empty) removes one."""
    values = _attribute_values(pairs)
    container = open_services()
    tenant = tenant_of(container, slug)
    subject = user_service.find_user(container.uow(), tenant, email).subject
    user = user_service.update_user(container.uow(), tenant, subject, {"attributes": values})
    record_operator_write(container, "user.update", tenant, "user", subject)
    emit(user.public_dict(), as_json)


@users.command("set-password")
@tenant_option
@click.argument("email")
@click.option("--password", required=True, help="The password, or - to read it from stdin.")
@json_option
@handles_errors
def users_set_password(slug: str, email: str, password: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    user_service.set_password(
        container.uow(), container.passwords, tenant, email, _read_password(password)
    )
    subject = user_service.find_user(container.uow(), tenant, email).subject
    record_operator_write(container, "user.set_password", tenant, "user", subject)
    emit({"email": email, "password_changed": True}, as_json)


@users.command("reset-password")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_reset_password(slug: str, email: str, as_json: bool) -> None:
    """Mail the user a password reset link (the mail of the forgot-password page)."""
    container = open_services()
    tenant = tenant_of(container, slug)
    user = user_service.find_user(container.uow(), tenant, email)
    job_id = password_reset.send_reset(container.uow(), container.mailer, tenant, user.subject)
    # This process ends now: make the first attempt here, as `idp mail test` does; a failed
    # one stays queued for the server's consumers.
    container.jobs.run_now(job_id)
    record_operator_write(container, "user.password_reset_requested", tenant, "user", user.subject)
    emit({"email": user.email, "password_reset": "sent"}, as_json)


@users.command("deactivate")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_deactivate(slug: str, email: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    user = user_service.set_active(container.uow(), tenant, email, False)
    user_service.sign_out_everywhere(
        container.uow(),
        container.revocations,
        container.backchannel,
        issuer_url(container.settings.server.public_url, tenant.slug),
        tenant,
        user.subject,
        container.settings.tokens,
    )
    record_operator_write(container, "user.deactivate", tenant, "user", user.subject)
    emit(user.public_dict(), as_json)


@users.command("activate")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_activate(slug: str, email: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    user = user_service.set_active(container.uow(), tenant, email, True)
    record_operator_write(container, "user.activate", tenant, "user", user.subject)
    emit(user.public_dict(), as_json)


@users.command("lockout")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_lockout(slug: str, email: str, as_json: bool) -> None:
    """Show the user's sign-in failures and the end of their wait, if any."""
    container = open_services()
    tenant = tenant_of(container, slug)
    user = user_service.find_user(container.uow(), tenant, email)
    emit(
        {"email": user.email, **container.lockout().state(tenant, user.email).public_dict()},
        as_json,
    )


@users.command("unlock")
@tenant_option
@click.argument("email")
@json_option
@handles_errors
def users_unlock(slug: str, email: str, as_json: bool) -> None:
    """Let the user sign in again at once: lift the wait, forget the failures (audited)."""
    container = open_services()
    tenant = tenant_of(container, slug)
    user = user_service.find_user(container.uow(), tenant, email)
    before = container.lockout().unlock(tenant, user.email)
    lifted = before.public_dict()
    record_operator_write(container, "user.unlocked", tenant, "user", user.subject, lockout=lifted)
    emit({"email": user.email, "unlocked": True, "lifted": lifted}, as_json)


@click.group()
def keys() -> None:
    """List and rotate a tenant's signing keys."""


def _key_dict(info: signing_keys.KeyInfo, now: datetime) -> dict[str, Any]:
    return {
        "kid": info.kid,
        "alg": info.alg,
        "state": info.state(now),
        "created_at": info.created_at.isoformat(),
        "activates_at": info.activates_at.isoformat(),
        "retires_at": info.retires_at.isoformat() if info.retires_at else None,
    }


@keys.command("list")
@tenant_option
@json_option
@handles_errors
def keys_list(slug: str, as_json: bool) -> None:
    container = open_services()
    found = signing_keys.list_keys(container.uow(), tenant_of(container, slug).id)
    now = datetime.now(UTC)
    emit([_key_dict(info, now) for info in found], as_json)


@keys.command("rotate")
@tenant_option
@click.option("--alg", "algs", multiple=True, type=click.Choice(SIGNING_ALGS), help="Default: all.")
@json_option
@handles_errors
def keys_rotate(slug: str, algs: tuple[str, ...], as_json: bool) -> None:
    """Publish new keys now; they sign after the publish delay, old ones retire after that."""
    container = open_services()
    tenant = tenant_of(container, slug)
    created = signing_keys.rotate_keys(
        container.uow(),
        container.kek,
        tenant.id,
        algs or SIGNING_ALGS,
        publish_delay=timedelta(seconds=container.settings.keys.publish_delay_seconds),
        longest_token_lifetime=timedelta(
            seconds=client_service.longest_token_lifetime(
                container.uow(), tenant, container.settings.tokens
            )
        ),
    )
    record_operator_write(
        container,
        "signing_key.rotate",
        tenant,
        "tenant",
        tenant.slug,
        kids=[info.kid for info in created],
        algs=[info.alg for info in created],
    )
    now = datetime.now(UTC)
    emit([_key_dict(info, now) for info in created], as_json)
