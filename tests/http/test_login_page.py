"""The login page: cookies under an https deployment, password rehashing, usage counting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import func, select

from idp.crypto.passwords import Passwords
from idp.models.usage import UsageCount
from idp.services.container import build_services
from idp.services.tenancy.tenants import TenantView
from tests.conftest import settings_for_tests
from tests.support.browser import PASSWORD, Browser, code_request, hidden_fields, pkce_pair
from tests.support.factories import Factory
from tests.support.ports import free_port
from tests.support.server import LiveServer, start_server


@pytest.fixture(scope="module")
def https_deployment(server, backend, tmp_path_factory) -> Iterator[LiveServer]:
    """An instance whose public URL is https (TLS ends at a proxy in front of it)."""
    port = free_port()
    settings = settings_for_tests(
        backend, tmp_path_factory.mktemp("https"), f"https://127.0.0.1:{port}"
    ).replace(keys={"kek_file": server.services.settings.keys.kek_file})
    instance = start_server(build_services(settings), port)
    yield instance
    instance.stop()
    instance.services.close()


def cookie_attributes(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_under_https_cookies_are_secure_and_host_prefixed(https_deployment, make, module_tenant):
    person = make.user(module_tenant, password=PASSWORD)
    base = f"http://127.0.0.1:{https_deployment.url.rsplit(':', 1)[1]}/t/{module_tenant.slug}"
    page = requests.get(f"{base}/login", timeout=10)
    csrf_header = page.headers["Set-Cookie"]
    assert csrf_header.startswith("__Host-idp_csrf=")
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= cookie_attributes(csrf_header)
    # The Secure cookie would not go back over plain http, so send it as a browser would via TLS.
    csrf = csrf_header.split(";")[0]
    form = hidden_fields(page.text) | {"email": person.email, "password": PASSWORD}
    signed_in = requests.post(
        f"{base}/login", data=form, headers={"Cookie": csrf}, allow_redirects=False, timeout=10
    )
    assert signed_in.status_code == 200, signed_in.text
    session_header = signed_in.headers["Set-Cookie"]
    assert session_header.startswith(f"__Host-idp_session_{module_tenant.slug}=")
    assert {"secure", "httponly", "path=/", "samesite=lax"} <= cookie_attributes(session_header)


def test_an_old_password_hash_is_upgraded_at_sign_in(
    browser: Browser, make: Factory, module_tenant: TenantView
):
    person = make.user(module_tenant, password=PASSWORD)
    old_hash = Passwords(time_cost=2, memory_kib=2048, parallelism=1).hash(PASSWORD)
    with make.services.uow() as uow:
        uow.users.by_email(module_tenant.id, person.email).password_hash = old_hash
        uow.commit()

    signed_in = browser.sign_in(f"{browser.issuer}/login", person.email, PASSWORD)
    assert signed_in.status_code == 200  # no transaction: the "you are signed in" page

    with make.services.uow() as uow:
        new_hash = uow.users.by_email(module_tenant.id, person.email).password_hash
    assert new_hash != old_hash
    assert not make.services.passwords.needs_rehash(new_hash)
    assert make.services.passwords.verify(new_hash, PASSWORD)


@pytest.mark.in_process
def test_a_sign_in_for_a_client_counts_in_its_usage(browser: Browser, make: Factory, rp, person):
    tenant_id = rp.client.tenant_id

    def sign_ins() -> int:
        make.services.usage.flush()
        with make.services.uow() as uow:
            query = select(func.coalesce(func.sum(UsageCount.count), 0)).where(
                UsageCount.tenant_id == tenant_id,
                UsageCount.client_id == rp.client.client_id,
                UsageCount.metric == "sign_ins",
            )
            return int(uow.session.scalar(query))

    before = sign_ins()
    _, challenge = pkce_pair()
    started = browser.authorize(**code_request(rp.client.client_id, challenge))
    assert browser.sign_in(started.headers["Location"], person.email, PASSWORD).status_code == 303
    assert sign_ins() == before + 1
