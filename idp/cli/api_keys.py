"""`idp api-keys`: management API keys, including platform keys (only created here)."""

from __future__ import annotations

import click

from idp.cli.audit import record_operator_write
from idp.cli.base import emit, fail, handles_errors, json_option, open_services, tenant_of
from idp.services.management import api_keys as key_service
from idp.services.management.api_keys import OPERATOR, SCOPES


@click.group("api-keys")
def api_keys() -> None:
    """Create, list and revoke management API keys."""


@api_keys.command("create")
@click.option("--platform", is_flag=True, help="A key for the whole installation.")
@click.option("--tenant", "slug", help="A key for one tenant.")
@click.option("--name", required=True)
@click.option("--scopes", help=f"Space or comma separated; default all: {' '.join(SCOPES)}")
@json_option
@handles_errors
def api_keys_create(
    platform: bool, slug: str | None, name: str, scopes: str | None, as_json: bool
) -> None:
    if platform == bool(slug):
        fail("give exactly one of --platform and --tenant")
    container = open_services()
    tenant = tenant_of(container, slug) if slug else None
    wanted = tuple(scopes.replace(",", " ").split()) if scopes else None
    issued = key_service.create_api_key(container.uow(), OPERATOR, tenant, name, wanted)
    record_operator_write(
        container, "api_key.create", tenant, "api_key", issued.key.key_id, platform=platform
    )
    emit({**issued.key.public_dict(), "key": issued.secret}, as_json)


@api_keys.command("list")
@click.option("--platform", is_flag=True, help="The keys of the whole installation.")
@click.option("--tenant", "slug", help="The keys of one tenant.")
@json_option
@handles_errors
def api_keys_list(platform: bool, slug: str | None, as_json: bool) -> None:
    """Keys by id, name, scopes and dates, revoked ones included; never the secret."""
    if platform == bool(slug):
        fail("give exactly one of --platform and --tenant")
    container = open_services()
    if slug:
        keys = key_service.list_api_keys(container.uow(), tenant_of(container, slug))
    else:
        keys = key_service.list_platform_api_keys(container.uow())
    emit([key.public_dict() for key in keys], as_json)


@api_keys.command("revoke")
@click.option("--platform", is_flag=True, help="KEY_ID is a platform key.")
@click.option("--tenant", "slug", help="KEY_ID is a key of this tenant.")
@click.argument("key_id")
@json_option
@handles_errors
def api_keys_revoke(platform: bool, slug: str | None, key_id: str, as_json: bool) -> None:
    """Revoke a key: its next call, on any instance, is refused."""
    if platform == bool(slug):
        fail("give exactly one of --platform and --tenant")
    container = open_services()
    if slug:
        tenant = tenant_of(container, slug)
        key = key_service.revoke_api_key(container.uow(), tenant, key_id)
        record_operator_write(container, "api_key.revoke", tenant, "api_key", key_id)
    else:
        key = key_service.revoke_platform_api_key(container.uow(), key_id)
        record_operator_write(container, "api_key.revoke", None, "api_key", key_id, platform=True)
    emit(key.public_dict(), as_json)
