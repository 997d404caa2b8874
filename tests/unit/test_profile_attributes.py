"""A tenant's profile attributes (issue 9 §2), without a server: declarations as an admin sends
them, values from forms (text) and the API (JSON), what is required where, and which claims a
scope releases."""

from __future__ import annotations

import pytest

from idp.services.errors import InvalidInput
from idp.services.tenancy.profile_attributes import (
    ProfileAttribute,
    check_values,
    load_declarations,
    parse_declarations,
    released_claims,
)

DECLARED = parse_declarations(
    [
        {"name": "company", "label": "Company", "required": True, "scope": "organisation"},
        {"name": "seats", "type": "integer"},
        {"name": "newsletter", "type": "boolean"},
        {"name": "ref", "required": True, "at_registration": False},
    ]
)


def test_declarations_get_their_defaults_and_survive_storage():
    assert DECLARED[1] == ProfileAttribute("seats", "seats", "integer", False, True, "profile")
    stored = [attribute.public_dict() for attribute in DECLARED]
    assert load_declarations(stored) == DECLARED


def test_form_text_becomes_typed_values():
    values = {"company": " Acme ", "seats": "12", "newsletter": "on", "ref": "R-1"}
    assert check_values(DECLARED, values) == {
        "company": "Acme",
        "seats": 12,
        "newsletter": True,
        "ref": "R-1",
    }


def test_registration_asks_only_for_its_attributes_and_requires_them():
    assert check_values(DECLARED, {"company": "Acme"}, only_registration=True) == {
        "company": "Acme"
    }
    with pytest.raises(InvalidInput) as refused:
        check_values(DECLARED, {"seats": 3}, only_registration=True)
    assert refused.value.field == "attributes.company"


def test_an_admin_may_leave_required_ones_empty_and_remove_values():
    current = {"company": "Acme", "seats": 3, "undeclared_now": "x"}
    changed = check_values(DECLARED, {"seats": None}, current, require=False)
    assert changed == {"company": "Acme"}  # undeclared values are dropped with the change


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"seats": "twelve"}, "attributes.seats"),
        ({"seats": 2.5}, "attributes.seats"),
        ({"seats": 2**60}, "attributes.seats"),
        ({"newsletter": "maybe"}, "attributes.newsletter"),
        ({"newsletter": "no", "company": 1}, "attributes.company"),
        ({"company": "a\tb"}, "attributes.company"),
        ({"unknown": "x"}, "attributes.unknown"),
    ],
)
def test_bad_values_name_their_attribute(values, field):
    with pytest.raises(InvalidInput) as refused:
        check_values(DECLARED, values, require=False)
    assert refused.value.field == field


def test_claims_go_out_under_their_scope_only():
    values = {"company": "Acme", "seats": 3, "newsletter": False}
    assert released_claims(DECLARED, values, ["openid", "profile"]) == {
        "seats": 3,
        "newsletter": False,
    }
    assert released_claims(DECLARED, values, ["openid", "organisation"]) == {"company": "Acme"}
