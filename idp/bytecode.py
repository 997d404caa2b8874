"""Lean bytecode for the server's workers: their code loaded without docstrings (`python -OO`).

A worker's code objects are about a quarter of its memory (~26 MB of ~100 on PostgreSQL +
Redis: SQLAlchemy, redis-py, psycopg, Flask and ours), and the docstrings in them 6.5 MB of that
(bench/RESULTS.md). `-OO` drops them, and asserts, which our code uses only to narrow types for
the type checker. But `-OO` reads `.opt-2.pyc` files, which no installer writes: without them a
worker compiles every module from source at each start, and grows by 5 MB instead. So the
command that starts the server first compiles the code it has loaded (the standard library's
included) into a cache of this installation's own, and points the workers at it with
PYTHONPYCACHEPREFIX. A module a worker loads later (a passkey library on the first passkey
sign-in) is compiled on first use, and kept there unless PYTHONDONTWRITEBYTECODE is set.
"""

from __future__ import annotations

import compileall
import contextlib
import importlib
import logging
import sys
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

OPTIMIZE = 2  # -OO: no docstrings, no asserts
# Beside the virtualenv's own packages (sys.prefix), whose versions it follows.
CACHE = Path(sys.prefix) / "var" / "idp-bytecode"
# What a worker loads: the app and its routes, both databases' drivers (the URL picks one at
# run time) and the short-lived store's, and both servers' own modules.
WORKER_MODULES = (
    "idp.app",
    "idp.serving",
    "idp.stores.redis",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.dialects.postgresql.psycopg",
    "granian.server",
    "granian.wsgi",
    "granian.cli",
    "gunicorn.app.wsgiapp",
    "gunicorn.workers.gthread",
    "logging.config",
)


def lean_worker_environ(env: Mapping[str, str], cache: Path = CACHE) -> dict[str, str]:
    """The variables that start the server's workers on lean bytecode from `cache`, once what
    a worker loads (and whatever else this process has loaded) is compiled into it; none where
    the operator has chosen (PYTHONOPTIMIZE or PYTHONPYCACHEPREFIX set) or where `cache`
    cannot be written, since `-OO` without its bytecode costs more memory than it saves."""
    if env.get("PYTHONOPTIMIZE") or env.get("PYTHONPYCACHEPREFIX"):
        return {}
    for name in WORKER_MODULES:
        with contextlib.suppress(ImportError):  # a server or driver this install goes without
            importlib.import_module(name)
    if not compile_modules(list(sys.modules.values()), cache):
        log.warning("%s cannot be written: the workers start on ordinary bytecode", cache)
        return {}
    return {"PYTHONOPTIMIZE": str(OPTIMIZE), "PYTHONPYCACHEPREFIX": str(cache)}


def compile_modules(modules: Iterable[ModuleType], cache: Path) -> bool:
    """Compile each module's source into `cache` as `-OO` would look for it there; a file
    already compiled from the same source is only checked. False if any could not be written."""
    sources = {getattr(module, "__file__", None) for module in modules}
    previous = sys.pycache_prefix
    sys.pycache_prefix = str(cache)  # where importlib.util.cache_from_source puts each file
    try:
        with warnings.catch_warnings():
            # A library's invalid escape sequences warn when compiled: theirs to fix, not the
            # operator's to read when the server starts.
            warnings.simplefilter("ignore")
            return all(
                compileall.compile_file(source, quiet=2, optimize=OPTIMIZE)
                for source in sorted(s for s in sources if s and s.endswith(".py"))
            )
    finally:
        sys.pycache_prefix = previous
