"""Account lockout and the per-address limit: failed sign-ins of every method, counted in the
shared store (issue 10 §5).

One count per account and one per client IP, whatever the method that failed: a password, and
(as they arrive) a TOTP or recovery code, a magic-link code, a passkey. Every method calls the
same two functions, so a guesser cannot spread guesses over methods:

    wait = lockout.retry_after(tenant, email, ip)   # before checking the secret
    if wait is not None:                            # (or `blocked(...)`, a bool)
        refuse(retry_after=wait)                    # 429 with Retry-After: wait
    if not secret_ok:
        lockout.record_failure(tenant, email, ip, method="totp")
    else:
        lockout.record_success(tenant, email)

`method` names what failed, for the audit log: "password" (the default, so the older
`record_failure(tenant, email, ip)` calls still read right), and for the methods to come
"totp", "recovery_code", "magic_link", "passkey". It changes nothing in the counting.
`services().lockout()` (idp/services/container.py) builds one; `LoginThrottle` is this class.

`account` is the account's e-mail address as stored (normalised), known or not: an address
without an account is counted and locked exactly as one with, so lockout reveals nothing. The
store holds only its digest. Attempts refused while blocked are not failures: callers check
`blocked` first and never verify the secret then.

The account waits `lockout_base_seconds` after `login_failures_per_account` failures, twice as
long after each further one, at most `lockout_max_seconds`: a stranger can delay a person but
never lock them out for good. A success (or an admin's unlock) forgets the account's failures,
never the address's: one good password must not reset a guesser's budget for other accounts.

The counts live in the store alone (DESIGN §3): losing them only lets someone try again. An
unreachable store raises StoreUnavailable, which the pages answer with 503, never an allow.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from idp.crypto.secrets import digest
from idp.models.uow import UnitOfWork
from idp.services.audit import SUCCESS, AuditEntry, record_event
from idp.services.tenancy.tenants import TenantView
from idp.settings import RateLimitSettings
from idp.stores import ShortLivedStore

PASSWORD = "password"
# Doubling beyond this many steps is past any sensible cap; it keeps 2**n a small number.
MAX_DOUBLINGS = 40


@dataclass(frozen=True)
class LockoutState:
    """What an admin sees: failures remembered for the account, and the end of its wait."""

    failures: int
    locked_until: datetime | None

    def public_dict(self) -> dict[str, object]:
        until = self.locked_until.isoformat().replace("+00:00", "Z") if self.locked_until else None
        return {"failures": self.failures, "locked": until is not None, "locked_until": until}


def account_key(tenant_id: int, account: str) -> str:
    """The store key of an account's count (its wait is `<key>:until`, its mirror `<key>:seen`).
    A digest: no e-mail address in Redis or in the store table."""
    return f"lockout:acct:{tenant_id}:{digest(account)}"


def _ip_key(tenant_id: int, ip: str) -> str:
    return f"login:ip:{tenant_id}:{ip}"


class Lockout:
    """Failures per account (escalating waits) and per client IP (a fixed window), in the store.

    `uow` makes a unit of work for the audit events of locks (`user.locked`)."""

    def __init__(
        self, store: ShortLivedStore, limits: RateLimitSettings, uow: Callable[[], UnitOfWork]
    ) -> None:
        self._store = store
        self._limits = limits
        self._uow = uow

    def retry_after(self, tenant: TenantView, account: str, ip: str) -> int | None:
        """Seconds until the account and the address may both try again; None when neither
        waits. One store round trip (Redis MGET)."""
        keys = [f"{account_key(tenant.id, account)}:until", f"{_ip_key(tenant.id, ip)}:until"]
        now = time.time()
        waits = [float(until) - now for until in self._store.get_many(keys) if until is not None]
        remaining = max(waits, default=0.0)
        return math.ceil(remaining) if remaining > 0 else None

    def blocked(self, tenant: TenantView, account: str, ip: str) -> bool:
        return self.retry_after(tenant, account, ip) is not None

    def record_failure(
        self,
        tenant: TenantView,
        account: str,
        ip: str,
        method: str = PASSWORD,
        request_id: str | None = None,
    ) -> int | None:
        """Count one failed attempt of `method`; the wait in seconds when it locks the account
        (audited as `user.locked`), else None."""
        self._count_address(tenant, ip)
        key = account_key(tenant.id, account)
        memory = self._limits.lockout_memory_seconds
        failures = self._store.incr(key, memory)
        over = failures - self._limits.login_failures_per_account
        if over < 0:
            self._store.put(f"{key}:seen", str(failures), memory)
            return None
        wait = min(
            self._limits.lockout_base_seconds * 2 ** min(over, MAX_DOUBLINGS),
            self._limits.lockout_max_seconds,
        )
        until = str(time.time() + wait)
        seen = (f"{key}:seen", str(failures), memory)
        self._store.put_many([seen, (f"{key}:until", until, wait)])
        self._audit_lock(tenant, account, ip, method, request_id, failures, wait)
        return wait

    def record_success(self, tenant: TenantView, account: str) -> None:
        """Forget the account's failures (the address's stay counted)."""
        key = account_key(tenant.id, account)
        # One read on the common path (nothing to forget), writes only when there is.
        if any(self._store.get_many([f"{key}:seen", f"{key}:until"])):
            for name in (key, f"{key}:seen", f"{key}:until"):
                self._store.delete(name)

    def state(self, tenant: TenantView, account: str) -> LockoutState:
        key = account_key(tenant.id, account)
        seen, until = self._store.get_many([f"{key}:seen", f"{key}:until"])
        locked_until = None
        if until is not None and float(until) > time.time():
            locked_until = datetime.fromtimestamp(float(until), UTC).replace(microsecond=0)
        return LockoutState(int(seen) if seen else 0, locked_until)

    def unlock(self, tenant: TenantView, account: str) -> LockoutState:
        """An admin lifts the wait and forgets the failures; returns the state before, for the
        audit trail. The address's count is untouched: it is not the person's."""
        before = self.state(tenant, account)
        self.record_success(tenant, account)
        return before

    def _count_address(self, tenant: TenantView, ip: str) -> None:
        window = self._limits.login_window_seconds
        key = _ip_key(tenant.id, ip)
        if self._store.incr(key, window) >= self._limits.login_failures_per_ip:
            self._store.put(f"{key}:until", str(time.time() + window), window)

    def _audit_lock(
        self,
        tenant: TenantView,
        account: str,
        ip: str,
        method: str,
        request_id: str | None,
        failures: int,
        wait: int,
    ) -> None:
        uow = self._uow()
        with uow:
            user = uow.users.by_email(tenant.id, account)
            subject = user.subject if user else None
        # An address without an account is audited too, with no target: the log shows the
        # attack, and the page behaved the same.
        record_event(
            uow,
            AuditEntry(
                action="user.locked",
                actor="anonymous",
                tenant_id=tenant.id,
                target_type="user" if subject else None,
                target_id=subject,
                outcome=SUCCESS,
                client_ip=ip,
                request_id=request_id,
                details={"method": method, "failures": failures, "wait_seconds": wait},
            ),
        )


# The name the password pages have always used; new callers may use either.
LoginThrottle = Lockout
