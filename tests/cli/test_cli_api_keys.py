"""`idp api-keys` (issue 4): the one way to make a platform key, in the exact form scripts use."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from idp.models.db import make_engine
from tests.support.cli import Installation


def test_platform_and_tenant_keys_print_the_key_once(install: Installation, tenant: str) -> None:
    platform = install.json("api-keys", "create", "--platform", "--name", "root")
    assert platform["key"].startswith("idp_ak_") and platform["platform"] is True
    assert platform["hint"].endswith(platform["key"][-4:])
    narrow = install.json(
        "api-keys",
        "create",
        "--tenant",
        tenant,
        "--name",
        "ci",
        "--scopes",
        "users:read clients:read",
    )
    assert narrow["platform"] is False and narrow["scopes"] == ["clients:read", "users:read"]
    listed = install.json("api-keys", "list", "--tenant", tenant)
    assert narrow["key"] not in str(listed)
    engine = make_engine(install.environ["IDP_DATABASE__URL"])
    with engine.connect() as connection:
        digests = set(connection.execute(text("SELECT digest FROM api_keys")).scalars())
    engine.dispose()
    assert hashlib.sha256(platform["key"].encode()).hexdigest() in digests


@pytest.mark.parametrize(
    "arguments",
    [
        ("--name", "both", "--platform", "--tenant", "x"),
        ("--name", "neither"),
        ("--platform", "--name", "bad", "--scopes", "root:everything"),
    ],
)
def test_wrong_forms_are_one_line_errors(install: Installation, arguments: tuple[str, ...]) -> None:
    result = install.run("api-keys", "create", *arguments, "--json")
    assert result.code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
