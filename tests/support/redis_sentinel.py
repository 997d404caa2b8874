"""A Redis Sentinel of a test's own, monitoring a RedisServer the test started.

Debian ships Sentinel inside `redis-server` (run with `--sentinel` and a configuration file it
may rewrite); there is no separate binary. With `certificates`, the sentinel listens on TLS only
and talks TLS to the master it monitors (`tls-replication yes`).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis

from tests.support.ports import free_port
from tests.support.redis_server import launch, terminate
from tests.support.tls import Certificates

SERVICE = "idp-test"


class SentinelServer:
    def __init__(
        self,
        directory: Path,
        master_port: int,
        certificates: Certificates | None = None,
        service: str = SERVICE,
    ) -> None:
        self.port = free_port()
        self.service = service
        self._directory = directory
        self._master_port = master_port
        self._certificates = certificates
        self._process: subprocess.Popen[bytes] | None = None

    def _config(self) -> str:
        lines = ["bind 127.0.0.1", f"dir {self._directory}"]
        if self._certificates is None:
            lines.append(f"port {self.port}")
        else:
            tls = self._certificates
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {tls.cert}",
                f"tls-key-file {tls.key}",
                f"tls-ca-cert-file {tls.ca}",
                "tls-auth-clients no",
                "tls-replication yes",
            ]
        # Quorum 1: this sentinel alone may declare the master down and fail over, quickly.
        lines += [
            f"sentinel monitor {self.service} 127.0.0.1 {self._master_port} 1",
            f"sentinel down-after-milliseconds {self.service} 1000",
            f"sentinel failover-timeout {self.service} 5000",
        ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        config = self._directory / f"sentinel-{self.port}.conf"
        config.write_text(self._config())
        self._process = launch([str(config), "--sentinel"], self.client)

    def client(self) -> redis.Redis:
        if self._certificates is None:
            return redis.Redis(port=self.port, socket_connect_timeout=0.5, decode_responses=True)
        return redis.Redis(
            port=self.port,
            socket_connect_timeout=0.5,
            decode_responses=True,
            ssl=True,
            ssl_ca_certs=str(self._certificates.ca),
        )

    def master_port(self) -> int:
        """The port of the master this sentinel currently names for the service."""
        _, port = self.client().sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def stop(self) -> None:
        terminate(self._process)
        self._process = None
