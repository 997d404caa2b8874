"""The `idp` command (DESIGN §10): every admin task from a terminal, `--json` everywhere."""

from __future__ import annotations

import sys

import click

from idp.cli.api_keys import api_keys
from idp.cli.base import cli, fail
from idp.cli.directory import clients, keys, tenants, users
from idp.cli.factors import users_factors  # noqa: F401 - registers `users factors`, `reset-mfa`
from idp.cli.lifecycle import demo, migrate, serve
from idp.cli.mail import mail
from idp.cli.providers import providers

for command in (serve, migrate, demo, tenants, clients, users, keys, api_keys, mail, providers):
    cli.add_command(command)


def main() -> None:
    """Run `idp`; every error, usage errors included, is one `error:` line on stderr.

    Click's own format spreads a usage error over several lines (usage, hint, blank, message),
    which scripts reading stderr cannot rely on. Bare `idp` still shows the full help.
    """
    try:
        cli.main(prog_name="idp", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        error.show()
        sys.exit(error.exit_code)
    except click.UsageError as error:
        hint = f" (see `{error.ctx.command_path} --help`)" if error.ctx else ""
        click.echo(f"error: {error.format_message()}{hint}", err=True)
        sys.exit(error.exit_code)
    except click.ClickException as error:
        fail(error.format_message())
    except click.Abort:
        fail("aborted")


__all__ = ["cli", "main"]
