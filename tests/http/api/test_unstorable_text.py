"""JSON strings no database can store are refused as bad input, never a 500.

`json.loads` accepts U+0000 (PostgreSQL refuses it in text) and an unpaired surrogate such as
"\\ud800" (no UTF-8 encodes one: both databases' drivers fail on it). A client named with a lone
surrogate answered 500 on both set-ups before idp/services/json_text.py.
"""

from __future__ import annotations

import json

import pytest

# Sent as raw JSON text: `requests` would refuse to encode a lone surrogate itself.
UNSTORABLE = [r"\ud800", r"x\udfffy", r"a\u0000b"]
CREATIONS = [
    ("/tenants/{slug}/clients", {"grant_types": ["client_credentials"]}),
    ("/tenants/{slug}/api-keys", {}),
]
JSON = {"Content-Type": "application/json"}


def with_raw(fields: dict[str, object], name: str, escaped: str) -> bytes:
    """`fields` and a field `name` whose JSON text is `escaped` verbatim."""
    body = json.dumps({**fields, name: "PLACEHOLDER"})
    return body.replace('"PLACEHOLDER"', f'"{escaped}"').encode()


@pytest.mark.parametrize("escaped", UNSTORABLE)
@pytest.mark.parametrize(("template", "fields"), CREATIONS)
def test_a_name_no_database_stores_is_an_invalid_field(
    api, platform_key, make, template, fields, escaped
):
    path = template.format(slug=make.tenant().slug)
    client = api(platform_key)
    response = client.post(path, template, data=with_raw(fields, "name", escaped), headers=JSON)
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["name"]
    # The same request with a storable name is made.
    made = client.post(path, template, data=with_raw(fields, "name", "fine"), headers=JSON)
    assert made.status_code == 201


@pytest.mark.parametrize("escaped", [r"\ud800", r"x\udfffy"])
def test_registration_metadata_no_database_stores_is_invalid_client_metadata(
    http, make, rfc_error, escaped
):
    tenant = make.registration_tenant(requires_token=False)
    body = with_raw({"redirect_uris": ["https://rp.example/cb"]}, "client_name", escaped)
    response = http.post(f"{make.issuer(tenant)}/register", data=body, headers=JSON)
    assert rfc_error(response) == (400, "invalid_client_metadata")
