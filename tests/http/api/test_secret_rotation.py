"""Client secret rotation with an overlap window (issue 4): the old secret works until a given
time, so every instance of a client can switch over without an outage."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import requests

TEMPLATE = "/tenants/{slug}/clients/{client_id}/secret"


def _token_status(server, tenant, client_id: str, secret: str) -> int:
    response = requests.post(
        f"{server.url}/t/{tenant.slug}/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    return response.status_code


def _rotate(api, key, tenant, client_id, **body):
    path = f"/tenants/{tenant.slug}/clients/{client_id}/secret"
    return api(key).post(path, TEMPLATE, json=body if body else None)


def test_without_overlap_the_old_secret_dies_at_once(server, api, make, tenant_key):
    tenant = make.tenant()
    issued = make.client(tenant)
    client_id, old = issued.client.client_id, issued.secret
    rotated = _rotate(api, tenant_key(tenant), tenant, client_id)
    assert rotated.status_code == 200
    assert rotated.json()["previous_secret_expires_at"] is None
    assert _token_status(server, tenant, client_id, old) == 401
    assert _token_status(server, tenant, client_id, rotated.json()["client_secret"]) == 200


def test_with_overlap_both_secrets_work_until_the_given_time(server, api, make, tenant_key):
    tenant = make.tenant()
    issued = make.client(tenant)
    client_id, old = issued.client.client_id, issued.secret
    until = datetime.now(UTC) + timedelta(seconds=2)
    rotated = _rotate(
        api, tenant_key(tenant), tenant, client_id, old_secret_expires_at=until.isoformat()
    )
    assert rotated.status_code == 200
    new = rotated.json()["client_secret"]
    assert datetime.fromisoformat(rotated.json()["previous_secret_expires_at"]) == until
    assert _token_status(server, tenant, client_id, old) == 200
    assert _token_status(server, tenant, client_id, new) == 200
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
    assert _token_status(server, tenant, client_id, old) == 401
    assert _token_status(server, tenant, client_id, new) == 200


def test_a_second_rotation_ends_the_first_overlap(server, api, make, tenant_key):
    tenant = make.tenant()
    issued = make.client(tenant)
    client_id, first = issued.client.client_id, issued.secret
    key = tenant_key(tenant)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    second = _rotate(api, key, tenant, client_id, old_secret_expires_at=later).json()[
        "client_secret"
    ]
    third = _rotate(api, key, tenant, client_id, old_secret_expires_at=later).json()[
        "client_secret"
    ]
    assert _token_status(server, tenant, client_id, first) == 401  # at most two secrets live
    assert _token_status(server, tenant, client_id, second) == 200
    assert _token_status(server, tenant, client_id, third) == 200


def test_overlap_times_are_checked(api, make, tenant_key):
    tenant = make.tenant()
    client_id = make.client(tenant).client.client_id
    key = tenant_key(tenant)
    for bad in (
        "tomorrow",
        (datetime.now(UTC) + timedelta(days=31)).isoformat(),
        "2020-01-01T00:00:00+00:00",
    ):
        response = _rotate(api, key, tenant, client_id, old_secret_expires_at=bad)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "old_secret_expires_at"


def test_the_previous_secret_is_stored_only_as_a_digest(services, api, make, tenant_key):
    tenant = make.tenant()
    issued = make.client(tenant)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    _rotate(api, tenant_key(tenant), tenant, issued.client.client_id, old_secret_expires_at=later)
    with services.engine.connect() as connection:
        row = connection.exec_driver_sql(
            "SELECT * FROM clients WHERE client_id = ?"
            if services.engine.dialect.name == "sqlite"
            else "SELECT * FROM clients WHERE client_id = %s",
            (issued.client.client_id,),
        ).one()
    assert issued.secret not in [str(value) for value in row]
