"""Free loopback ports for the servers tests start (the app, gunicorn, Redis, relays)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now: the kernel's pick for a socket bound to port 0.

    It is closed again before the caller binds it, so another process could take it meanwhile;
    on a test machine's loopback that race is rare enough to accept.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
