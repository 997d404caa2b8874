"""The strings of a JSON value, and which of them no database can store.

`json.loads` accepts two things no text column holds: U+0000 (PostgreSQL refuses it) and an
unpaired surrogate such as "\\ud800" (no UTF-8 encodes one, so both databases' drivers fail on
it). Only JSON brings them: form and query decoding replace what is not valid UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def strings_of(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value: object keys, values and list items, at any depth."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from strings_of(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_of(item)


def unstorable(text: str) -> bool:
    """Whether `text` holds U+0000 or an unpaired surrogate."""
    if "\x00" in text:
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return True
    return False
