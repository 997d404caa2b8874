"""Secrets at rest (DESIGN §6, issue 4): a new API key or client secret is returned once, and the
database holds only its SHA-256 digest — nowhere, in no table, the secret itself."""

from __future__ import annotations

import hashlib

from sqlalchemy import MetaData, select


def _everything_stored(services) -> str:
    """Every value of every row of every table, as one text to search."""
    metadata = MetaData()
    metadata.reflect(services.engine)
    values = []
    with services.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                values.extend(
                    value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    for value in row
                )
    return "\n".join(values)


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def test_api_key_is_shown_once_and_stored_only_as_its_digest(services, api, make, tenant_key):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    created = admin.post(
        f"/tenants/{tenant.slug}/api-keys", "/tenants/{slug}/api-keys", json={"name": "ci"}
    )
    assert created.status_code == 201
    key = created.json()["key"]
    listed = admin.get(f"/tenants/{tenant.slug}/api-keys", "/tenants/{slug}/api-keys")
    assert key not in listed.text
    stored = _everything_stored(services)
    assert key not in stored
    assert _sha256(key) in stored


def test_client_secret_is_shown_once_and_stored_only_as_its_digest(services, api, make, tenant_key):
    tenant = make.tenant()
    admin = api(tenant_key(tenant))
    created = admin.post(
        f"/tenants/{tenant.slug}/clients",
        "/tenants/{slug}/clients",
        json={"name": "Orders", "grant_types": ["client_credentials"]},
    )
    assert created.status_code == 201
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    shown = admin.get(
        f"/tenants/{tenant.slug}/clients/{client_id}", "/tenants/{slug}/clients/{client_id}"
    )
    listed = admin.get(f"/tenants/{tenant.slug}/clients", "/tenants/{slug}/clients")
    assert secret not in shown.text and secret not in listed.text
    stored = _everything_stored(services)
    assert secret not in stored
    assert _sha256(secret) in stored
