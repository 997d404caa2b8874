"""Keyset pagination: stable under concurrent inserts, O(limit) at any depth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_after: int | None  # the id to continue after, None on the last page


def keyset_page(
    session: Session,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    after: int | None,
    limit: int,
) -> Page[Any]:
    if after is not None:
        query = query.where(id_column > after)
    rows = session.scalars(query.order_by(id_column).limit(limit + 1)).all()
    if len(rows) > limit:
        return Page(rows[:limit], rows[limit - 1].id)
    return Page(rows, None)
