"""The command group, its shared options, output helpers and error mapping."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import OperationalError

from idp.crypto.kek import KekError
from idp.models.schema import SchemaOutOfDate, ensure_current
from idp.services.container import Services, build_services
from idp.services.errors import DomainError
from idp.services.tenancy.tenants import TenantView, get_tenant
from idp.settings import SettingsError, load_settings

F = TypeVar("F", bound=Callable[..., Any])
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
@click.option("--config", type=click.Path(dir_okay=False), help="config.toml to read.")
@click.pass_context
def cli(context: click.Context, config: str | None) -> None:
    """Administer the identity provider."""
    context.obj = {"config": config}


def fail(message: str) -> NoReturn:
    """One `error:` line on stderr, exit 1. Driver messages span lines (psycopg adds hints):
    they are folded so that scripts reading the last line of stderr get the whole reason."""
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(1)


def handles_errors(command: F) -> F:
    """Expected failures become one `error:` line on stderr and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (DomainError, SettingsError, KekError, SchemaOutOfDate) as error:
            fail(str(error))
        except OperationalError as error:
            fail(f"database unreachable: {error.orig}")

    return wrapper  # type: ignore[return-value]


def open_services(create_kek: bool = False, migrated: bool = True) -> Services:
    context = click.get_current_context()
    settings = load_settings(context.find_root().obj.get("config"))
    container = build_services(settings, create_kek=create_kek)
    if migrated:
        ensure_current(container.engine)
    return container


def tenant_of(container: Services, slug: str) -> TenantView:
    return get_tenant(container.uow(), slug)


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif human is not None:
        click.echo(human(data))
    else:
        click.echo(_as_text(data))


def _as_text(data: Any) -> str:
    if isinstance(data, list):
        return "\n\n".join(_as_text(item) for item in data) if data else "(none)"
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            shown = " ".join(map(str, value)) if isinstance(value, list) else value
            lines.append(f"{key}: {'' if shown is None else shown}")
        return "\n".join(lines)
    return str(data)
