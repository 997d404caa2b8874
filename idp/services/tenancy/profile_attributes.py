"""A tenant's own profile attributes (issue 9 §2; seed 003's `company`).

The tenant declares each attribute once in its settings: its name (the claim name in ID tokens
and userinfo), the label people see, its type, whether it is required, whether the sign-up page
asks for it, and the scope that releases it. Values are stored per user (`User.attributes`) and
checked against the declaration wherever they come from: the sign-up page, the account page, the
management API or the `idp users` command.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from idp.i18n import N_
from idp.services.errors import InvalidInput

TYPES = ("string", "boolean", "integer")
# Messages shown on the hosted pages as well as in the API: translated there (signup.po).
REQUIRED = N_("This field is required.")
TRUE_WORDS = ("on", "true", "1", "yes")
FALSE_WORDS = ("off", "false", "0", "no")
MAX_ATTRIBUTES = 20
MAX_LABEL = 100
MAX_STRING = 500
# Matched whole (fullmatch): `$` alone would let a trailing newline through.
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# RFC 6749 §3.3 scope-token, kept to what fits a claim name's neighbourhood.
SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,64}")
# Claims with a meaning of their own (OIDC Core §2, §5.1, RFC 9068 §2.2, our `roles`): an
# attribute may never stand in for one.
RESERVED = frozenset(
    [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "at_hash",
        "c_hash",
        "sid",
        "scope",
        "client_id",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "phone_number_verified",
        "address",
        "updated_at",
        "roles",
        "groups",
    ]
)


@dataclass(frozen=True)
class ProfileAttribute:
    name: str
    label: str
    type: str = "string"
    required: bool = False
    at_registration: bool = True
    scope: str = "profile"

    def public_dict(self) -> dict[str, Any]:
        return asdict(self)

    def check_value(self, value: Any, require: bool = True) -> str | bool | int | None:
        """The value to store (None when absent), or InvalidInput naming `attributes.<name>`;
        `require=False`: an admin may leave a required attribute empty."""
        field = f"attributes.{self.name}"
        required = self.required and require
        if isinstance(value, str) and self.type != "string":
            value = _from_text(self.type, value.strip(), field)
        if value is None or value == "":
            if required:
                raise InvalidInput(field, REQUIRED)
            return None
        if self.type == "string":
            if not isinstance(value, str):
                raise InvalidInput(field, "must be a string")
            value = value.strip()
            if len(value) > MAX_STRING or not value.isprintable():
                raise InvalidInput(field, f"must be at most {MAX_STRING} printable characters")
            if not value and required:
                raise InvalidInput(field, REQUIRED)
            return value or None
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise InvalidInput(field, "must be true or false")
            if required and not value:
                raise InvalidInput(field, REQUIRED)
            return value
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**53:
            raise InvalidInput(field, "must be a whole number")
        return value


def _from_text(kind: str, text: str, field: str) -> bool | int | None:
    """A form sends text: a checkbox is "on" or absent, a number its digits; the command line
    says yes or no. Any other word is a mistake, not a silent false."""
    if not text:
        return None
    if kind == "boolean":
        if text.lower() not in TRUE_WORDS + FALSE_WORDS:
            raise InvalidInput(field, "must be true or false")
        return text.lower() in TRUE_WORDS
    try:
        return int(text)
    except ValueError as error:
        raise InvalidInput(field, "must be a whole number") from error


def parse_declarations(raw: Any) -> tuple[ProfileAttribute, ...]:
    """Declarations sent by an admin (a list of objects), checked; InvalidInput otherwise."""
    field = "policies.profile_attributes"
    if not isinstance(raw, list) or len(raw) > MAX_ATTRIBUTES:
        raise InvalidInput(field, f"must be a list of at most {MAX_ATTRIBUTES} attributes")
    declared: list[ProfileAttribute] = []
    for index, item in enumerate(raw):
        where = f"{field}.{index}"
        if not isinstance(item, dict):
            raise InvalidInput(where, "must be an object")
        unknown = set(item) - {"name", "label", "type", "required", "at_registration", "scope"}
        if unknown:
            raise InvalidInput(where, f"unknown fields: {', '.join(sorted(unknown))}")
        name, label = item.get("name"), item.get("label")
        if not isinstance(name, str) or not NAME.fullmatch(name) or name in RESERVED:
            raise InvalidInput(
                f"{where}.name",
                "1-64 lowercase letters, digits and '_', starting with a letter, "
                "and not a standard claim",
            )
        if any(other.name == name for other in declared):
            raise InvalidInput(f"{where}.name", f"'{name}' is declared twice")
        if "label" not in item:
            label = name
        if (
            not isinstance(label, str)
            or not 0 < len(label) <= MAX_LABEL
            or not label.strip()
            or not label.isprintable()
        ):
            raise InvalidInput(f"{where}.label", f"must be 1-{MAX_LABEL} printable characters")
        kind = item.get("type", "string")
        if kind not in TYPES:
            raise InvalidInput(f"{where}.type", f"one of: {', '.join(TYPES)}")
        scope = item.get("scope", "profile")
        if not isinstance(scope, str) or not SCOPE.fullmatch(scope) or scope == "openid":
            raise InvalidInput(f"{where}.scope", "a scope token other than 'openid'")
        flags = {}
        for flag, default in (("required", False), ("at_registration", True)):
            value = item.get(flag, default)
            if not isinstance(value, bool):
                raise InvalidInput(f"{where}.{flag}", "must be true or false")
            flags[flag] = value
        declared.append(
            ProfileAttribute(name, label.strip(), kind, scope=scope, **flags)  # type: ignore[arg-type]
        )
    return tuple(declared)


def load_declarations(stored: Iterable[Mapping[str, Any]]) -> tuple[ProfileAttribute, ...]:
    """Declarations as stored on the tenant row (checked when they were saved)."""
    return tuple(ProfileAttribute(**dict(item)) for item in stored)


def check_values(
    declared: Iterable[ProfileAttribute],
    values: Mapping[str, Any],
    current: Mapping[str, Any] | None = None,
    *,
    only_registration: bool = False,
    require: bool = True,
) -> dict[str, Any]:
    """The attribute values to store after applying `values` to `current`.

    Names that are not declared are refused; a required attribute must end up with a value
    (at registration only the ones the page asks for). An admin (`require=False`) may leave a
    required one empty for the person to fill in; what they send is checked all the same.
    Raises InvalidInput for the first problem.
    """
    declared = tuple(declared)
    known = {attribute.name for attribute in declared}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"attributes.{unknown[0]}", "is not a profile attribute of this tenant")
    result = {k: v for k, v in (current or {}).items() if k in known}
    for attribute in declared:
        if only_registration and not attribute.at_registration:
            continue
        missing = require and attribute.required and attribute.name not in result
        if attribute.name in values or missing:
            checked = attribute.check_value(values.get(attribute.name), require=require)
            if checked is None:
                result.pop(attribute.name, None)
            else:
                result[attribute.name] = checked
    return result


def released_claims(
    declared: Iterable[ProfileAttribute], values: Mapping[str, Any], scopes: Iterable[str]
) -> dict[str, Any]:
    """The attribute claims a token may carry for the granted `scopes` (OIDC Core §5.4)."""
    granted = set(scopes)
    return {
        attribute.name: values[attribute.name]
        for attribute in declared
        if attribute.scope in granted and values.get(attribute.name) is not None
    }
