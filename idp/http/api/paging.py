"""Cursor pagination parameters and the `{"items": [...], "next_cursor": ...}` envelope."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

from flask import request

from idp.http.api.problems import ApiProblem
from idp.models.pagination import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def page_params() -> tuple[int | None, int]:
    """(after, limit) from `?cursor=` and `?limit=`; a malformed value is a 400 problem."""
    raw_limit = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise ApiProblem(400, "Bad request", f"limit must be 1-{MAX_LIMIT}")
    cursor = request.args.get("cursor")
    if not cursor:
        return None, int(raw_limit)
    try:
        after = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiProblem(400, "Bad request", "cursor is not one this API returned") from None
    return after, int(raw_limit)


def envelope(page: Page[Any], render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    cursor = None
    if page.next_after is not None:
        cursor = base64.urlsafe_b64encode(str(page.next_after).encode()).decode().rstrip("=")
    return {"items": [render(item) for item in page.items], "next_cursor": cursor}


def single_page(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": None}
