"""Several gunicorn instances on one host (issue 8): gunicorn >= 25.1 opens its control socket at
one path per user, so a second instance would take it over from the first, and the first to stop
would delete the other's. Both instances here run from the same directory with the same HOME."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.cli import BIN, Installation
from tests.support.gunicorn import Gunicorn, start
from tests.support.ports import free_port


@pytest.fixture
def install(tmp_path: Path) -> Installation:
    home = tmp_path / "home"
    home.mkdir()
    installation = Installation.create(
        tmp_path / "site", f"sqlite:///{tmp_path / 'idp.sqlite3'}", HOME=str(home)
    )
    # gunicorn prefers $XDG_RUNTIME_DIR over $HOME: without it, the default is under our HOME.
    installation.environ.pop("XDG_RUNTIME_DIR", None)
    assert installation.run("migrate").code == 0
    return installation


@pytest.fixture
def running() -> Iterator[list[Gunicorn]]:
    instances: list[Gunicorn] = []
    yield instances
    for instance in instances:
        instance.stop()


def listeners(socket_path: Path, install: Installation) -> list[str]:
    """What `gunicornc` reads from the control socket: the addresses that master listens on."""
    shown = subprocess.run(
        [str(BIN / "gunicornc"), "-s", str(socket_path), "-c", "show listeners", "-j"],
        env=install.environ,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    return [listener["address"] for listener in json.loads(shown.stdout)["listeners"]]


def test_without_configuration_no_instance_opens_a_control_socket(
    install: Installation, running: list[Gunicorn]
) -> None:
    first = start(install, free_port())
    running.append(first)
    second = start(install, free_port())
    running.append(second)

    home = Path(install.environ["HOME"])
    assert not (home / ".gunicorn" / "gunicorn.ctl").exists()
    assert "control socket" not in (first.log_text() + second.log_text()).lower()
    first.stop()
    assert requests.get(f"{second.url}/readyz", timeout=5).status_code == 200


def test_each_instance_keeps_the_control_socket_it_was_given(
    install: Installation, running: list[Gunicorn]
) -> None:
    ports = [free_port(), free_port()]
    sockets = [install.directory / f"gunicorn-{port}.ctl" for port in ports]
    for port, path in zip(ports, sockets, strict=True):
        running.append(start(install, port, idp_serve=True, control_socket=path.name))

    for port, path in zip(ports, sockets, strict=True):
        assert listeners(path, install) == [f"http://127.0.0.1:{port}"]
    for instance in running:
        assert requests.get(f"{instance.url}/readyz", timeout=5).status_code == 200
    # The first one to stop removes its own socket only.
    running[0].stop()
    assert not sockets[0].exists()
    assert listeners(sockets[1], install) == [f"http://127.0.0.1:{ports[1]}"]
