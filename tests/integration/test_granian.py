"""`idp serve --server granian`, the supported faster server, started as a user starts it.

The protocol endpoints run against granian in tests/conftest.py (`server_kind`); this proves the
command itself: from a scratch installation, with the production factory (`idp.serving`), the
same variables as gunicorn, and a graceful stop on SIGTERM.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import requests

from tests.support.cli import IDP, Installation
from tests.support.ports import free_port
from tests.support.processes import children, environ

BOOT_TIMEOUT = 60.0


def test_idp_serve_granian_serves_tokens_and_stops_gracefully(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    install = Installation.create(
        tmp_path, f"sqlite:///{tmp_path / 'idp.sqlite3'}", IDP_SERVER__PUBLIC_URL=url
    )
    assert install.run("migrate").code == 0
    demo = install.json("demo")
    log = tmp_path / "granian.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(IDP), "serve", "--server", "granian", "--port", str(port), "--workers", "2"],
            cwd=install.directory,
            env={**install.environ, "HOST": "127.0.0.1"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(url, process, log)
        token = requests.post(
            f"{demo['issuer']}/token",
            data={"grant_type": "client_credentials"},
            auth=(demo["client_id"], demo["client_secret"]),
            timeout=10,
        )
        assert token.status_code == 200, token.text
        metadata = requests.get(demo["discovery"], timeout=10).json()
        assert metadata["issuer"] == demo["issuer"]
        workers = children(process.pid)
        assert len(workers) == 2
        for worker in workers:  # on lean bytecode (idp/bytecode.py)
            assert environ(worker)["PYTHONOPTIMIZE"] == "2"
    finally:
        process.terminate()
        try:
            code = process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    assert code == 0, log.read_text()[-3000:]
    assert "Traceback" not in log.read_text()


def test_the_control_socket_is_gunicorns_alone(tmp_path: Path) -> None:
    install = Installation.create(tmp_path, f"sqlite:///{tmp_path / 'idp.sqlite3'}")
    assert install.run("migrate").code == 0
    result = install.run("serve", "--server", "granian", "--control-socket", "x.ctl")
    assert result.code == 2
    assert "--control-socket is gunicorn's" in result.stderr


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:  # not listening yet
            pass
        time.sleep(0.1)
    raise AssertionError(f"granian did not serve:\n{log.read_text()[-3000:]}")
