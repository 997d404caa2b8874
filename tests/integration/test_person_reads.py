"""The token endpoints' read of a person (models.lookups, one Core SELECT) gives the same view as
the unit of work's, and only within the tenant asked."""

from __future__ import annotations

import pytest

from idp.services.accounts.users import get_user, read_user
from idp.services.errors import NotFound


def test_the_lookup_reads_the_same_person_as_the_unit_of_work(services, make):
    tenant = make.tenant()
    with_roles = make.user(
        tenant,
        name="Ada Lovelace",
        roles=("zeta", "alpha", "mid"),
        create_missing_roles=True,
        picture="https://pictures.example/ada.png",
    )
    without_roles = make.user(tenant)

    for person in (with_roles, without_roles):
        read = read_user(services.person_lookup, tenant, person.subject)
        assert read == get_user(services.uow(), tenant, person.subject)
    assert read_user(services.person_lookup, tenant, with_roles.subject).roles == (
        "alpha",
        "mid",
        "zeta",
    )


def test_the_lookup_finds_no_one_of_another_tenant_or_unknown(services, make):
    tenant, other = make.tenant(), make.tenant()
    person = make.user(tenant)

    with pytest.raises(NotFound):
        read_user(services.person_lookup, other, person.subject)
    with pytest.raises(NotFound):
        read_user(services.person_lookup, tenant, "no-such-subject")
