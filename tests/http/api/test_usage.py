"""Usage analytics over real HTTP: tokens and failures counted, flushed, read back exactly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from idp.models.users import User
from idp.services.management.api_keys import OPERATOR, create_api_key
from idp.services.tenancy.usage import FEDERATION_METRICS, utc_today

USAGE = "/tenants/{slug}/usage"
FEDERATION_ZEROS = dict.fromkeys(FEDERATION_METRICS, 0)


@pytest.fixture
def reader(api, services):
    """An API client for a key of `tenant` holding only usage:read."""

    def build(tenant):
        key = create_api_key(services.uow(), OPERATOR, tenant, "dashboard", ("usage:read",))
        return api(key.secret)

    return build


def usage(client, slug: str, **params: str) -> dict:
    """The report, once every count recorded so far by the server has been written."""
    response = client.get(USAGE.format(slug=slug), USAGE, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def around_today() -> dict[str, str]:
    """A range that holds today however close to midnight the test runs."""
    today = utc_today()
    return {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=1)).isoformat(),
    }


@pytest.mark.in_process
def test_tokens_and_failures_are_counted_per_client(
    make, services, reader, request_token, access_token, http
):
    tenant = make.tenant()
    billing, reports = make.client(tenant), make.client(tenant)
    for _ in range(3):
        access_token(tenant, billing)
    for _ in range(2):
        access_token(tenant, reports)
    wrong = billing.__class__(billing.client, "idp_cs_not-the-secret")
    assert request_token(tenant, wrong).status_code == 401  # failed client authentication
    assert request_token(tenant, reports, scope="admin").status_code == 400  # invalid_scope
    unknown = http.post(
        f"{make.issuer(tenant)}/token",
        data={"grant_type": "client_credentials"},
        auth=("no-such-client", "x"),
    )
    assert unknown.status_code == 401
    services.usage.flush()

    report = usage(reader(tenant), tenant.slug, **around_today())
    assert report["totals"] == {
        "tokens_issued": 5,
        "failures": 3,
        "sign_ins": 0,
        **FEDERATION_ZEROS,
        "active_users": 0,
    }
    by_client = {c["client_id"]: c for c in report["clients"]}
    assert by_client[billing.client.client_id] == {
        "client_id": billing.client.client_id,
        "tokens_issued": 3,
        "failures": 1,
        "sign_ins": 0,
        **FEDERATION_ZEROS,
    }
    assert (by_client[reports.client.client_id]["tokens_issued"],) == (2,)
    assert by_client[reports.client.client_id]["failures"] == 1
    assert by_client[None]["failures"] == 1  # an unknown client id is not a row of its own
    assert "no-such-client" not in str(report)
    assert len(report["days"]) == 3
    (today,) = [d for d in report["days"] if d["tokens_issued"]]
    assert today["day"] == utc_today().isoformat()
    assert sum(r["tokens_issued"] for r in report["rows"]) == 5


@pytest.mark.in_process
def test_counts_of_several_flushes_add_up(make, services, reader, access_token):
    tenant = make.tenant()
    client = make.client(tenant)
    for round_ in range(3):
        for _ in range(round_ + 1):
            access_token(tenant, client)
        services.usage.flush()
    assert usage(reader(tenant), tenant.slug)["totals"]["tokens_issued"] == 6


@pytest.mark.in_process
def test_filter_by_client(make, services, reader, access_token):
    tenant = make.tenant()
    one, other = make.client(tenant), make.client(tenant)
    access_token(tenant, one)
    access_token(tenant, other)
    access_token(tenant, other)
    services.usage.flush()

    report = usage(reader(tenant), tenant.slug, client_id=other.client.client_id)
    assert report["client_id"] == other.client.client_id
    assert report["totals"] == {
        "tokens_issued": 2,
        "failures": 0,
        "sign_ins": 0,
        **FEDERATION_ZEROS,
        "active_users": None,
    }
    assert [c["client_id"] for c in report["clients"]] == [other.client.client_id]
    assert {d["active_users"] for d in report["days"]} == {None}


def test_sign_ins_and_active_users(make, services, reader):
    tenant = make.tenant()
    client = make.client(tenant)
    alice, bob = make.user(tenant), make.user(tenant)
    with services.uow() as uow:
        ids = dict(
            uow.session.execute(
                select(User.subject, User.id).where(User.subject.in_([alice.subject, bob.subject]))
            ).all()
        )
    recorder = services.usage
    recorder.record_sign_in(tenant.id, ids[alice.subject], client.client.client_id)
    recorder.record_sign_in(tenant.id, ids[alice.subject], client.client.client_id)
    recorder.record_sign_in(tenant.id, ids[bob.subject], None)
    recorder.flush()
    recorder.record_sign_in(tenant.id, ids[alice.subject], client.client.client_id)
    recorder.flush()

    report = usage(reader(tenant), tenant.slug, **around_today())
    assert report["totals"]["sign_ins"] == 4
    assert report["totals"]["active_users"] == 2  # alice counted once however often she came
    (today,) = [d for d in report["days"] if d["sign_ins"]]
    assert (today["sign_ins"], today["active_users"]) == (4, 2)
    by_client = {c["client_id"]: c["sign_ins"] for c in report["clients"]}
    assert by_client == {client.client.client_id: 3, None: 1}


@pytest.mark.in_process
def test_one_tenants_usage_never_shows_in_anothers(make, services, reader, access_token, api):
    a, b = make.tenant(), make.tenant()
    b_client = make.client(b)
    access_token(b, b_client)
    services.usage.flush()

    a_report = usage(reader(a), a.slug)
    assert a_report["totals"]["tokens_issued"] == 0
    assert a_report["clients"] == [] and a_report["rows"] == []
    a_reader = reader(a)
    assert a_reader.get(USAGE.format(slug=b.slug), USAGE).status_code == 404
    b_client_filter = usage(a_reader, a.slug, client_id=b_client.client.client_id)
    assert b_client_filter["totals"]["tokens_issued"] == 0
    assert usage(reader(b), b.slug)["totals"]["tokens_issued"] == 1


def test_default_range_is_the_last_30_days(make, reader):
    tenant = make.tenant()
    report = usage(reader(tenant), tenant.slug)
    assert report["to"] == utc_today().isoformat()
    assert date.fromisoformat(report["from"]) == utc_today() - timedelta(days=29)
    assert len(report["days"]) == 30


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-30"},
        {"from": "yesterday"},
        {"to": "2026-W01-1"},
        {"to": ""},
        {"from": "2026-03-02", "to": "2026-03-01"},
        {"from": "2024-01-01", "to": "2025-12-31"},
    ],
)
def test_bad_ranges_are_refused(make, reader, params):
    tenant = make.tenant()
    response = reader(tenant).get(USAGE.format(slug=tenant.slug), USAGE, params=params)
    assert response.status_code == 422
