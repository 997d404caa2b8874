"""A tenant's own CSS for its hosted pages, set through the management API (issue 9 §7).

It is served as a stylesheet of its own (`{issuer}/branding.css`) under our CSP, which already
keeps every load to our origin; we still refuse what could load, run or hide anything, so a
stylesheet that passes here means on every browser exactly what it says: no `@import` or
`url()` (nothing fetched, nor a tracking pixel), no legacy script hooks (`expression()`,
`behavior`, `-moz-binding`, `javascript:`), no backslash escapes (which would let any of those
be spelled another way) and no `<`, so it can never close a style element if one embeds it.
"""

from __future__ import annotations

import re

MAX_CSS = 20_000
FORBIDDEN = re.compile(
    r"@import|url\s*\(|image-set\s*\(|expression\s*\(|javascript:|behavior\s*:|-moz-binding|[\\<]",
    re.IGNORECASE,
)


def check_custom_css(value: str | None) -> str | None:
    """The CSS to store (None clears it), or ValueError saying what is refused."""
    if value is not None and len(value) > MAX_CSS:
        raise ValueError(f"must be at most {MAX_CSS} characters")
    if value is None or not value.strip():
        return None
    value = value.strip()
    if any(ord(c) < 0x20 and c not in "\t\n\r" for c in value):
        raise ValueError("must not contain control characters")
    found = FORBIDDEN.search(value)
    if found:
        raise ValueError(
            f"must not contain '{found.group(0)}': @import, url(), script hooks, "
            "backslash escapes and '<' are refused"
        )
    return value
