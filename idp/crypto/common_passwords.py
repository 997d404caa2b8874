"""Passwords that breaches have made common, checked offline (issue 9 §2; NIST SP 800-63B §5.1.1.2).

A new password must not be one that attackers try first. The list is zxcvbn's: the 30,000
passwords found most often in leaked password dumps, shipped inside the package, so the check
needs no network and sends nothing anywhere (unlike a k-anonymity lookup). The comparison
ignores case, as guessing tools do.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache


@cache
def _common() -> frozenset[str]:
    """Loaded when a password is first set: zxcvbn's lists are ~12 MB a process, and a worker
    that only signs people in never needs them."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def is_common(password: str, context: Iterable[str] = ()) -> bool:
    """True for a breached password, or one that is only the person's own address or name
    (the context words: what an attacker targeting them would try first)."""
    lowered = password.strip().lower()
    if lowered in _common():
        return True
    return any(word and lowered == word.strip().lower() for word in context)
