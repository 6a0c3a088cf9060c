"""Text that fits its column on every engine.

SQLite stores any text in any column; PostgreSQL refuses a value longer than its
``VARCHAR(n)`` and any text holding a NUL character, and the refusal would surface as
a server error. So text bound for the metadata database goes through one of these,
with the limit read from the column itself (one source of truth):

- :func:`bounded_text` for what a person typed (labels, descriptions, comments): too
  long or a NUL is a ``ValueError`` naming the field, which callers answer with a 4xx;
- :func:`clipped_text` for what the hub writes itself (delivery errors, targets): NUL
  replaced and cut to fit, since losing the record would be worse than shortening it.
"""

from __future__ import annotations

from typing import overload

import sqlalchemy as sa

__all__ = ["bounded_text", "clipped_text", "column_length"]


def column_length(column: sa.Column[str]) -> int | None:
    length = getattr(column.type, "length", None)
    return int(length) if length else None


@overload
def bounded_text(value: str, column: sa.Column[str], field: str) -> str: ...
@overload
def bounded_text(value: None, column: sa.Column[str], field: str) -> None: ...
def bounded_text(value: str | None, column: sa.Column[str], field: str) -> str | None:
    if value is None:
        return None
    if "\x00" in value:
        raise ValueError(f"{field}: must not contain NUL characters")
    limit = column_length(column)
    if limit is not None and len(value) > limit:
        raise ValueError(f"{field}: at most {limit} characters")
    return value


@overload
def clipped_text(value: str, column: sa.Column[str]) -> str: ...
@overload
def clipped_text(value: None, column: sa.Column[str]) -> None: ...
def clipped_text(value: str | None, column: sa.Column[str]) -> str | None:
    if value is None:
        return None
    value = value.replace("\x00", "\ufffd")
    limit = column_length(column)
    if limit is not None and len(value) > limit:
        value = value[: limit - 1] + "…"
    return value
