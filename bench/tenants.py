"""The many-tenant row: a 10,000-tenant database against a 1-tenant one, in the same run.

The request is the ES256 client credentials token with Basic client authentication (an RS256
signature would be most of the request and hide any per-tenant cost). The 1-tenant side is the
database the other rows use (only the `bench` tenant); the grown side is a second database of
the same kind, provisioned the same way, then grown to TENANTS tenants by `grow`, served by a
second server with the same settings. wrk's script (`spread_scenario`) sends the same request
shape to both: to the one tenant's ES256 client on the first, and cycling through `spread`
tenants' own clients and token URLs on the second, so the per-process caches (tenants, clients,
their generations, key rings) see every one of those tenants in turn, not one hot tenant.

`grow` builds the bulk fixture here, never in the product, with the product's own models and
constructors, in batches, because `idp tenants create` would take ~0.2 s a tenant (two RSA-2048
keys generated) and `idp clients create` a process each. Each bulk tenant is what `idp tenants
create` makes: a `Tenant` row with the model's defaults and one active signing key per
algorithm the product signs with, each with its own key id, sealed with the KEK under that id.
The shortcut: ES256 and EdDSA keys are generated per tenant (distinct material), but RS256 and
PS256 keys take their private material from a pool of RSA_POOL keys generated once, so many
tenants share RSA material (each copy sealed separately, under its own key id). Each bulk
tenant has one client made by the product's `new_client` (client_secret_basic, ES256 access
tokens, scopes "a b", like the bench's ES256 client), with its own random secret: secrets are
stored as SHA-256 digests, cheap enough to compute 10,000 times.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from bench.backends import Backend
from bench.load import FORM, Scenario, basic, jwt_alg, lua_string
from bench.server import TENANT, Credentials
from idp.crypto.kek import Kek, load_kek
from idp.crypto.keys import generate_private_jwk, public_part, seal_jwk
from idp.crypto.secrets import new_identifier
from idp.models.db import make_engine
from idp.models.keys import SigningKey
from idp.models.tenants import Tenant
from idp.services.oauth_clients.clients import ClientSpec, new_client
from idp.settings import SIGNING_ALGS

TENANTS = 10_000  # in the grown database, the `bench` tenant included
RSA_POOL = 4  # RSA-2048 keys generated once for every bulk tenant's RS256 and PS256 keys
BATCH = 500  # tenants per transaction
RSA_ALGS = frozenset({"RS256", "PS256"})
BODY = "grant_type=client_credentials"
ES256 = "ES256"
CLIENT = ClientSpec(
    name="es", grant_types=("client_credentials",), scopes=("a", "b"),
    access_token_signed_alg=ES256,
)  # fmt: skip


@dataclass(frozen=True)
class TenantClient:
    """A tenant's slug and the credentials of its ES256 client credentials client."""

    slug: str
    credentials: Credentials


def bulk_slug(number: int) -> str:
    return f"bulk-{number:05d}"


def grow(backend: Backend, count: int) -> list[TenantClient]:
    """Add `count` tenants, each with its signing keys and one ES256 client (module doc)."""
    engine = make_engine(backend.env["IDP_DATABASE__URL"])
    kek = load_kek(Path(backend.env["IDP_KEYS__KEK_FILE"]), None, create=False)
    pool = [RsaMaterial.generate() for _ in range(RSA_POOL)]
    made: list[TenantClient] = []
    try:
        for start in range(0, count, BATCH):
            numbers = range(start, min(start + BATCH, count))
            with Session(engine) as session:
                tenants = [Tenant(slug=bulk_slug(n), name=f"Bulk {n}") for n in numbers]
                session.add_all(tenants)
                session.flush()  # the tenants' ids
                for tenant in tenants:
                    session.add_all(tenant_keys(kek, tenant.id, pool))
                    client, secret = new_client(tenant.id, CLIENT)
                    session.add(client)
                    assert secret is not None  # client_secret_basic
                    made.append(TenantClient(tenant.slug, Credentials(client.client_id, secret)))
                session.commit()
    finally:
        engine.dispose()
    return made


@dataclass(frozen=True)
class RsaMaterial:
    """One pooled RSA-2048 key: its private and public JWK members, without kid/alg/use."""

    private: dict[str, Any]
    public: dict[str, Any]

    @classmethod
    def generate(cls) -> RsaMaterial:
        private = generate_private_jwk("RS256", "pool")
        public = public_part(private)  # parses the key once (~40 ms), not once per tenant
        labels = {"kid", "alg", "use"}
        return cls(
            {k: v for k, v in private.items() if k not in labels},
            {k: v for k, v in public.items() if k not in labels},
        )

    def jwks(self, kid: str, alg: str) -> tuple[dict[str, Any], dict[str, Any]]:
        labels = {"kid": kid, "use": "sig", "alg": alg}
        return {**self.private, **labels}, {**self.public, **labels}


def tenant_keys(kek: Kek, tenant_id: int, pool: list[RsaMaterial]) -> Iterator[SigningKey]:
    """One active key per signing algorithm, as `signing_keys.create_initial_keys` makes them;
    RSA material from the pool (module doc)."""
    now = datetime.now(UTC)
    for alg in SIGNING_ALGS:
        kid = new_identifier(12)
        if alg in RSA_ALGS:
            private, public = random.choice(pool).jwks(kid, alg)
        else:
            private = generate_private_jwk(alg, kid)
            public = public_part(private)
        yield SigningKey(
            tenant_id=tenant_id,
            kid=kid,
            alg=alg,
            public_jwk=public,
            private_jwk_sealed=seal_jwk(kek, private),
            activates_at=now,
        )


def spread_scenario(name: str, title: str, tenants: list[TenantClient]) -> Scenario:
    """Client credentials tokens, cycling through `tenants`' clients and token URLs from a
    random starting point (a new one each wrk run); the sample request checked before the load
    is the first tenant's."""
    entries = ",\n".join(
        f"{{ {lua_string(f'/t/{t.slug}/token')}, {lua_string(basic(t.credentials))} }}"
        for t in tenants
    )
    script = f"""
local entries = {{
{entries}
}}
math.randomseed(os.time())
local next_entry = math.random(#entries)
local headers = {{ ["Content-Type"] = {lua_string(FORM)} }}
function request()
  local entry = entries[next_entry]
  next_entry = next_entry % #entries + 1
  headers["Authorization"] = entry[2]
  return wrk.format("POST", entry[1], headers, {lua_string(BODY)})
end
"""
    first = tenants[0]
    return Scenario(
        name, title, f"/t/{first.slug}/token", 0, BODY,
        {"Authorization": basic(first.credentials), "Content-Type": FORM}, jwt_alg(ES256),
        script,
    )  # fmt: skip


def one_tenant(es256: Credentials) -> list[TenantClient]:
    """The 1-tenant database's side: the `bench` tenant's ES256 client."""
    return [TenantClient(TENANT, es256)]
