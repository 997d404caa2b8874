"""`idp users` and profile attributes (issue 9 §2): `--attribute NAME=VALUE` on create,
`set-attributes` afterwards, `show --json` carrying them, every bad value one error line; through
the real console script, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from idp.services.container import build_services
from idp.services.tenancy import tenant_settings
from idp.settings import load_settings
from tests.support.cli import Installation

DECLARED = [
    {"name": "company", "label": "Company"},
    {"name": "seats", "type": "integer"},
    {"name": "newsletter", "type": "boolean"},
]


@pytest.fixture(scope="module")
def declaring(install: Installation, tenant: str) -> str:
    """The module's tenant, declaring DECLARED (as the settings API would)."""
    settings = load_settings(install.directory / "config.toml", install.environ)
    services = build_services(settings)
    try:
        tenant_settings.update_settings(
            services.uow(), tenant, {}, {"profile_attributes": DECLARED}, settings.tokens
        )
    finally:
        services.close()
    return tenant


def test_attributes_are_set_on_create_changed_and_shown(install: Installation, declaring: str):
    created = install.json(
        "users", "create", "--tenant", declaring, "--email", "ada@example.com",
        "--password", "correct horse battery",
        "--attribute", "company=Acme Ltd", "--attribute", "seats=12",
    )  # fmt: skip
    assert created["attributes"] == {"company": "Acme Ltd", "seats": 12}
    changed = install.json(
        "users", "set-attributes", "--tenant", declaring, "ada@example.com",
        "newsletter=yes", "company=",
    )  # fmt: skip
    assert changed["attributes"] == {"seats": 12, "newsletter": True}
    shown = install.json("users", "show", "--tenant", declaring, "ada@example.com")
    assert shown["attributes"] == {"seats": 12, "newsletter": True}


@pytest.mark.parametrize(
    ("pair", "named"),
    [("seats=many", "attributes.seats"), ("shoe_size=42", "attributes.shoe_size"), ("x", "x")],
)
def test_a_bad_attribute_is_one_error_line(
    install: Installation, declaring: str, pair: str, named: str
):
    result = install.run(
        "users", "create", "--tenant", declaring, "--email", "bad@example.com",
        "--password", "correct horse battery", "--attribute", pair,
    )  # fmt: skip
    assert result.code == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert named in result.stderr
    assert install.run("users", "show", "--tenant", declaring, "bad@example.com").code == 1
