"""Rate limits of the management API (issue 4 §6): per client IP, then per caller.

Every request counts against its IP first, before its credentials are even looked at, so a
stranger hammering with bad keys is slowed like anyone else; then an authenticated request
counts against its API key (or access token's client). Counters live in the short-lived store,
so the limits hold across workers and instances. Over a limit: 429 with `Retry-After`.
"""

from __future__ import annotations

from flask import g

from idp.context import client_ip, services
from idp.http.api.problems import ApiProblem
from idp.services.management.api_keys import Principal
from idp.services.rate_limits import WindowLimiter

WINDOW = 60


def limit_by_ip() -> None:
    container = services()
    limit = container.settings.rate_limits.api_per_minute_per_ip
    _enforce(WindowLimiter(container.store, "api-ip", limit, WINDOW), client_ip())


def limit_by_caller() -> None:
    """After authentication; public documentation has no caller and only the IP limit."""
    caller: Principal | None = g.get("principal")
    if caller is None:
        return
    container = services()
    limit = container.settings.rate_limits.api_per_minute_per_key
    source = f"{caller.label}|{caller.tenant_id}"
    _enforce(WindowLimiter(container.store, "api-caller", limit, WINDOW), source)


def _enforce(limiter: WindowLimiter, source: str) -> None:
    retry_after = limiter.hit(source)
    if retry_after is not None:
        raise ApiProblem(
            429,
            "Too many requests",
            f"Rate limit reached; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
        )
