"""Strict JSON bodies: an object, only known fields, each of the declared type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import request

from idp.http.api.problems import ApiProblem, invalid_fields
from idp.services.json_text import strings_of, unstorable

READ_ONLY = frozenset({"id", "tenant_id", "created_at", "updated_at", "client_id", "sub"})


@dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    required: bool = False
    items: type | None = None  # element type of a list field
    nullable: bool = False  # null resets the field to its default
    fields: dict[str, Field] | None = None  # the members of a nested object field


def parse_body(fields: dict[str, Field]) -> dict[str, Any]:
    """The request's JSON object, checked against `fields`; problems list every bad field."""
    if not request.is_json:
        raise ApiProblem(415, "Unsupported media type", "Send a JSON body (application/json).")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiProblem(400, "Bad request", "The body must be a JSON object.")
    errors = _object_errors(body, fields, "")
    if errors:
        raise invalid_fields(errors)
    return body


def _object_errors(
    body: dict[str, Any], fields: dict[str, Field], prefix: str
) -> list[dict[str, str]]:
    """Every problem of `body`; nested objects report dotted names (`policies.mfa`)."""
    errors = []
    for name in body:
        if name in READ_ONLY and name not in fields:
            errors.append({"field": prefix + name, "message": "is read-only"})
        elif name not in fields:
            errors.append({"field": prefix + name, "message": "is not a known field"})
    for name, spec in fields.items():
        if name not in body:
            if spec.required:
                errors.append({"field": prefix + name, "message": "is required"})
            continue
        message = _type_error(body[name], spec)
        if message:
            errors.append({"field": prefix + name, "message": message})
        elif spec.fields is not None and body[name] is not None:
            errors.extend(_object_errors(body[name], spec.fields, f"{prefix}{name}."))
    return errors


def _type_error(value: Any, spec: Field) -> str | None:
    if value is None:
        return None if spec.nullable else "must not be null"
    # bool is an int in Python; JSON true must not pass as a number.
    if isinstance(value, bool) and bool not in _as_tuple(spec.kind):
        return f"must be of type {_name(spec.kind)}"
    if not isinstance(value, spec.kind):
        return f"must be of type {_name(spec.kind)}"
    if spec.items is not None and not all(isinstance(item, spec.items) for item in value):
        return f"must be a list of {spec.items.__name__}"
    if spec.fields is None and any(unstorable(text) for text in strings_of(value)):
        return "must not contain U+0000 or an unpaired surrogate"
    return None


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _name(kind: type | tuple[type, ...]) -> str:
    names = {
        "str": "string",
        "int": "integer",
        "bool": "boolean",
        "list": "array",
        "dict": "object",
    }
    return " or ".join(names.get(k.__name__, k.__name__) for k in _as_tuple(kind))


def iso_time(text: str) -> datetime | None:
    """An ISO 8601 time with a UTC offset, or None when `text` is not one."""
    try:
        moment = datetime.fromisoformat(text)
        moment.astimezone(UTC)  # year 9999 with a negative offset does not exist in UTC
    except (ValueError, OverflowError):
        return None
    return moment if moment.tzinfo is not None else None


def parse_time(field: str, value: str | None) -> datetime | None:
    """An ISO 8601 time with a UTC offset from body field `field`; null stays None."""
    if value is None:
        return None
    moment = iso_time(value)
    if moment is None:
        raise invalid_fields([{"field": field, "message": "must be an ISO 8601 time with offset"}])
    return moment
