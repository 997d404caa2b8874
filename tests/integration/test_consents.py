"""Consenting in several tabs at the same moment never fails (it used to surface the unique
constraint as a 500), and a consent is remembered. Which tab's extra scopes win a simultaneous
update is not promised: a scope not remembered only means the consent page is shown again."""

from __future__ import annotations

import threading

from idp.services.signin.consents import check_consent, remember_consent


def test_simultaneous_first_consents_merge_into_one(services, make):
    tenant = make.tenant()
    user_id = _user_id(services, make, tenant)
    client_id = make.client(tenant).client.client_id
    scope_sets = [["openid", f"scope{i}"] for i in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(scope_sets))

    def consent(scopes: list[str]) -> None:
        start.wait()
        try:
            remember_consent(services.uow(), tenant.id, user_id, client_id, scopes)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=consent, args=(scopes,)) for scopes in scope_sets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    remembered = [
        scopes
        for scopes in scope_sets
        if check_consent(
            services.uow(),
            tenant.id,
            user_id,
            client_id,
            tuple(scopes),
            interactive=True,
            force_page=False,
        ).given
    ]
    assert remembered


def _user_id(services, make, tenant) -> int:
    email = make.user(tenant).email
    with services.uow() as uow:
        user = uow.users.by_email(tenant.id, email)
        assert user is not None
        return user.id
