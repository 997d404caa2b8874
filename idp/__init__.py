"""The identity provider.

`create_app()` (in `idp.app`) builds the WSGI application; gunicorn serves `idp:create_app()`.
It is imported on first use so that the `idp` command, which never serves HTTP itself, does not
load Flask, Authlib and every route at each start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    from idp.app import create_app as build

    return build(*args, **kwargs)
