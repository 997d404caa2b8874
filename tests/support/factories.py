"""Build what a test needs through the real services: tenants, clients, users."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from typing import Any

from idp.services.accounts import users as user_service
from idp.services.accounts.users import UserView
from idp.services.container import Services
from idp.services.oauth_clients import clients as client_service
from idp.services.oauth_clients.clients import ClientSpec, ClientView, IssuedClient
from idp.services.tenancy import tenant_settings
from idp.services.tenancy import tenants as tenant_service
from idp.services.tenancy.tenants import TenantView


@dataclass
class Factory:
    services: Services
    base_url: str

    def tenant(self, slug: str | None = None, name: str = "Test tenant") -> TenantView:
        slug = slug or f"t-{secrets.token_hex(5)}"
        return tenant_service.create_tenant(self.services.uow(), self.services.kek, slug, name)

    def registration_tenant(self, requires_token: bool = True) -> TenantView:
        """A fresh tenant with dynamic client registration on (RFC 7591), an initial access
        token required unless told."""
        tenant = self.tenant()
        policy = {"enabled": True, "initial_access_token_required": requires_token}
        tenant_settings.update_settings(
            self.services.uow(),
            tenant.slug,
            {},
            {"dynamic_registration": policy},
            self.services.settings.tokens,
        )
        return tenant

    def issuer(self, tenant: TenantView) -> str:
        return f"{self.base_url}/t/{tenant.slug}"

    def client(self, tenant: TenantView, **spec: Any) -> IssuedClient:
        """A client made by `create_client`; keyword arguments that `ClientSpec` does not take
        (yet) but the model has, such as `backchannel_logout_uri`, are set on the row after."""
        spec.setdefault("name", "Test client")
        spec.setdefault("scopes", ("read", "write"))
        for key in ("grant_types", "redirect_uris", "scopes", "resources"):
            if key in spec and isinstance(spec[key], list):
                spec[key] = tuple(spec[key])
        accepted = {item.name for item in fields(ClientSpec)}
        columns = {key: spec.pop(key) for key in list(spec) if key not in accepted}
        issued = client_service.create_client(self.services.uow(), tenant, ClientSpec(**spec))
        if not columns:
            return issued
        with self.services.uow() as uow:
            row = uow.clients.get(tenant.id, issued.client.client_id)
            assert row is not None
            for key, value in columns.items():
                assert hasattr(row, key), f"clients have no column {key!r}"
                setattr(row, key, value)
            uow.commit()
            return IssuedClient(ClientView.of(row), issued.secret)

    def user(
        self,
        tenant: TenantView,
        email: str | None = None,
        picture: str | None = None,
        **kwargs: Any,
    ) -> UserView:
        """`picture` is set on the row: no user service takes it yet."""
        email = email or f"user-{secrets.token_hex(4)}@example.com"
        password = kwargs.pop("password", "correct horse battery")
        created = user_service.create_user(
            self.services.uow(), self.services.passwords, tenant, email, password, **kwargs
        )
        if picture is None:
            return created
        with self.services.uow() as uow:
            row = uow.users.by_subject(tenant.id, created.subject)
            assert row is not None
            row.picture = picture
            uow.commit()
            return UserView.of(row)
