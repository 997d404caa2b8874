"""Run the real `idp` console script in a subprocess, in a scratch directory.

Each run starts from the caller's environment without any `IDP_*` variable (a developer's
IDP_KEK or IDP_DATABASE__URL must not leak into a test) and works in a temporary directory
holding a copy of the shipped config.toml, so `var/` and `keys/` of the repository are never
touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IDP = BIN / "idp"


def clean_environ(**variables: str) -> dict[str, str]:
    """os.environ minus every IDP_* variable, plus `variables`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    environ.update(variables)
    return environ


@dataclass
class Installation:
    """A scratch install: its working directory and the environment every command runs with."""

    directory: Path
    environ: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, directory: Path, database_url: str, **variables: str) -> Installation:
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "config.toml", directory / "config.toml")
        environ = clean_environ(
            IDP_DATABASE__URL=database_url,
            IDP_KEYS__KEK_FILE=str(directory / "keys" / "kek"),
            # Cheap hashing: the CLI hashes a password per user command.
            IDP_PASSWORDS__TIME_COST="1",
            IDP_PASSWORDS__MEMORY_KIB="1024",
            **variables,
        )
        return cls(directory, environ)

    def run(self, *args: str, stdin: str | None = None, **variables: str) -> Result:
        completed = subprocess.run(
            [str(IDP), *args],
            cwd=self.directory,
            env={**self.environ, **variables},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Result(completed.returncode, completed.stdout, completed.stderr)

    def json(self, *args: str, **variables: str) -> Any:
        """Run a command with --json that must succeed; return its parsed output."""
        result = self.run(*args, "--json", **variables)
        assert result.code == 0, result.stderr
        return json.loads(result.stdout)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
