"""Lean bytecode for the server's workers (idp/bytecode.py): compiled where `-OO` looks for it,
the standard library's included, loaded from there without docstrings; and left alone where the
operator chose otherwise or the cache cannot be written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LEAN = (
    "import json, sys; from pathlib import Path; "
    "from idp.bytecode import lean_worker_environ; "
    "print(json.dumps(lean_worker_environ(json.loads(sys.argv[2]), Path(sys.argv[1]))))"
)
# What a worker would see: its flags, where each module's bytecode is, and a docstring.
PROBE = (
    "import json, sys, json.decoder, idp.app, sqlalchemy.orm; "
    "print(json.dumps([sys.flags.optimize, idp.app.__cached__, "
    "json.decoder.__cached__, sqlalchemy.orm.Session.__doc__]))"
)


def python(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )


def lean(cache: Path, **operator: str) -> dict[str, str]:
    """lean_worker_environ as a fresh `idp serve` process calls it."""
    return json.loads(python("-c", LEAN, str(cache), json.dumps(operator)).stdout)


def test_workers_load_their_code_compiled_without_docstrings(tmp_path: Path) -> None:
    cache = tmp_path / "bytecode"
    variables = lean(cache)
    assert variables == {"PYTHONOPTIMIZE": "2", "PYTHONPYCACHEPREFIX": str(cache)}

    # PYTHONDONTWRITEBYTECODE: the worker only reads what was compiled before it started.
    optimize, ours, stdlib, doc = json.loads(
        python("-c", PROBE, PYTHONDONTWRITEBYTECODE="1", **variables).stdout
    )
    assert (optimize, doc) == (2, None)
    for cached in (ours, stdlib):
        assert cached.startswith(f"{cache}{os.sep}") and cached.endswith(".opt-2.pyc")
        assert Path(cached).is_file()


def test_the_operators_choice_wins(tmp_path: Path) -> None:
    assert lean(tmp_path / "a", PYTHONOPTIMIZE="1") == {}
    assert lean(tmp_path / "b", PYTHONPYCACHEPREFIX=str(tmp_path / "theirs")) == {}
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_no_lean_bytecode_where_the_cache_cannot_be_written(tmp_path: Path) -> None:
    """`-OO` without its compiled files would cost each worker more memory than it saves."""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    started = python("-c", LEAN, str(blocked / "bytecode"), "{}")
    assert json.loads(started.stdout) == {}
    assert f"{blocked / 'bytecode'} cannot be written" in started.stderr
