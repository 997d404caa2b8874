"""`idp providers`: a tenant's upstream identity providers (Google, GitHub, any OpenID provider).

Every answer shows `callback_url`, the redirect URI to register at the upstream. The client
secret is read from standard input (`--client-secret-stdin`), never from an argument, which
other users of the machine could read in the process list.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from idp.cli.audit import record_operator_write
from idp.cli.base import emit, fail, handles_errors, json_option, open_services, tenant_of
from idp.models.providers import PROVIDER_KINDS
from idp.services.container import Services
from idp.services.tenancy import providers as provider_service
from idp.services.tenancy.providers import ProviderView
from idp.services.tenancy.tenants import TenantView, issuer_url

F = TypeVar("F", bound=Callable[..., Any])
tenant_option = click.option("--tenant", "slug", required=True, help="Tenant slug.")
URL_OPTIONS = ("issuer", "authorization_endpoint", "token_endpoint", "api_base_url", "icon_uri")


def setting_options(command: F) -> F:
    """The options `create` and `update` share; an empty value resets one to its default."""
    for option in reversed(
        [
            click.option("--display-name", help="The button's label."),
            click.option("--client-id"),
            click.option(
                "--client-secret-stdin", is_flag=True, help="Read the client secret from stdin."
            ),
            click.option("--issuer", help="oidc (required), google (default Google's)."),
            click.option("--authorization-endpoint", help="github: default github.com's."),
            click.option("--token-endpoint", help="github: default github.com's."),
            click.option("--api-base-url", help="github: default https://api.github.com."),
            click.option(
                "--allowed-audiences",
                help="google/oidc: space-separated extra `aud` values (native apps' client ids).",
            ),
            click.option("--scopes", help='Space-separated, e.g. "openid email profile".'),
            click.option("--icon-uri", help="The button's icon (https)."),
        ]
    ):
        command = option(command)
    return command


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    """The service's fields from the options given (None: not given)."""
    fields: dict[str, Any] = {}
    for name in ("display_name", "client_id", *URL_OPTIONS):
        if options.get(name) is not None:
            fields[name] = options[name] or None
    for name in ("allowed_audiences", "scopes"):
        if options.get(name) is not None:
            fields[name] = options[name].split()
    if options.get("client_secret_stdin"):
        secret = sys.stdin.readline().strip()
        if not secret:
            fail("no client secret on standard input")
        fields["client_secret"] = secret
    return fields


def _shown(container: Services, tenant: TenantView, provider: ProviderView) -> dict[str, Any]:
    return provider.public_dict(issuer_url(container.settings.server.public_url, tenant.slug))


@click.group()
def providers() -> None:
    """Configure sign-in through Google, GitHub or any OpenID provider, per tenant."""


@providers.command("create")
@tenant_option
@click.option("--kind", type=click.Choice(PROVIDER_KINDS), required=True)
@click.option("--slug", "provider", help="Name in URLs (default: the kind).")
@setting_options
@click.option("--disabled", is_flag=True, help="Configure now, show no button yet.")
@json_option
@handles_errors
def providers_create(
    slug: str, kind: str, provider: str | None, disabled: bool, as_json: bool, **options: Any
) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    fields = {**_fields(options), "kind": kind, "enabled": not disabled}
    if provider:
        fields["slug"] = provider
    created = provider_service.create_provider(container.uow(), container.kek, tenant, fields)
    record_operator_write(container, "provider.create", tenant, "provider", created.slug)
    emit(_shown(container, tenant, created), as_json)


@providers.command("update")
@tenant_option
@click.argument("provider")
@setting_options
@click.option("--enable/--disable", "enabled", default=None)
@click.option("--clear-secret", is_flag=True, help="Remove the secret (a public client).")
@json_option
@handles_errors
def providers_update(
    slug: str,
    provider: str,
    enabled: bool | None,
    clear_secret: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Change the options given; `--issuer ""` and the like reset a setting to its default."""
    container = open_services()
    tenant = tenant_of(container, slug)
    changes = _fields(options)
    if enabled is not None:
        changes["enabled"] = enabled
    if clear_secret:
        changes["client_secret"] = None
    updated = provider_service.update_provider(
        container.uow(), container.kek, tenant, provider, changes
    )
    record_operator_write(container, "provider.update", tenant, "provider", provider)
    emit(_shown(container, tenant, updated), as_json)


@providers.command("list")
@tenant_option
@json_option
@handles_errors
def providers_list(slug: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    found = provider_service.list_providers(container.provider_lookup, tenant)
    emit([_shown(container, tenant, provider) for provider in found], as_json)


@providers.command("show")
@tenant_option
@click.argument("provider")
@json_option
@handles_errors
def providers_show(slug: str, provider: str, as_json: bool) -> None:
    container = open_services()
    tenant = tenant_of(container, slug)
    found = provider_service.get_provider(container.uow(), tenant, provider)
    emit(_shown(container, tenant, found), as_json)


@providers.command("delete")
@tenant_option
@click.argument("provider")
@json_option
@handles_errors
def providers_delete(slug: str, provider: str, as_json: bool) -> None:
    """Delete a provider; the identities linked through it go with it."""
    container = open_services()
    tenant = tenant_of(container, slug)
    provider_service.delete_provider(container.uow(), tenant, provider)
    record_operator_write(container, "provider.delete", tenant, "provider", provider)
    emit({"slug": provider, "deleted": True}, as_json)
