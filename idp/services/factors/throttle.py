"""Wrong second-factor codes per account, with escalating waits (issue 10 §1).

A six-digit code has a million values and three of them are valid at any moment, so an
attacker who knows the password must not get many guesses. The first few mistakes cost
nothing (people mistype); after that each wrong code doubles the wait, up to a ceiling. The
wait is an instant in the store that every worker and instance checks *before* a code is
verified, so even the right code is refused while it lasts. Counters live in the store alone
(DESIGN §3): losing them lets a few more guesses through, it lets nobody in.

Self-contained on purpose: account-wide lockout across methods is a separate piece of work
(issue 10 §5) that may count these failures too.
"""

from __future__ import annotations

import math
import time

from idp.stores import ShortLivedStore

FREE_MISTAKES = 4
FIRST_WAIT = 30.0
LONGEST_WAIT = 900.0
# How long mistakes are remembered: a wait does not start over at one mistake a day later.
MEMORY = 3600.0


class FactorThrottle:
    def __init__(self, store: ShortLivedStore) -> None:
        self._store = store

    @staticmethod
    def _key(tenant_id: int, user_id: int, what: str) -> str:
        return f"factor:{what}:{tenant_id}:{user_id}"

    def wait(self, tenant_id: int, user_id: int) -> int:
        """Seconds before this account may try a code again (0: now)."""
        until = self._store.get(self._key(tenant_id, user_id, "until"))
        if until is None:
            return 0
        return max(0, math.ceil(float(until) - time.time()))

    def record_failure(self, tenant_id: int, user_id: int) -> None:
        mistakes = self._store.incr(self._key(tenant_id, user_id, "mistakes"), MEMORY)
        if mistakes <= FREE_MISTAKES:
            return
        wait = min(LONGEST_WAIT, FIRST_WAIT * 2 ** (mistakes - FREE_MISTAKES - 1))
        self._store.put(self._key(tenant_id, user_id, "until"), str(time.time() + wait), wait)

    def clear(self, tenant_id: int, user_id: int) -> None:
        """A right code: the person is back, their earlier typos no longer count."""
        self._store.delete(self._key(tenant_id, user_id, "mistakes"))
