"""Public identifiers are safe to pass on a command line."""

from __future__ import annotations

from idp.crypto.secrets import new_identifier


def test_identifiers_never_start_like_an_option():
    # 1 in 32 base64url strings starts with "-" or "_"; 2,000 draws would all but surely hit one.
    identifiers = [new_identifier() for _ in range(2000)]
    assert all(identifier[0].isalnum() for identifier in identifiers)
    assert len(set(identifiers)) == len(identifiers)
    assert all(len(identifier) == 22 for identifier in identifiers)
