"""The benchmark's bulk tenants (bench/tenants.py) are tenants the product serves: each issues
ES256 client credentials tokens under its own issuer, signed by keys of its own, and has a
working RSA key too (from the shared pool, sealed under its own key id)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.backends import Backend
from bench.tenants import grow
from idp import create_app
from idp.crypto.jwt import verify
from idp.models.schema import upgrade
from idp.services.container import build_services
from idp.settings import Settings

PUBLIC_URL = "http://idp.bench.test"


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_bulk_tenants_issue_tokens_with_keys_of_their_own(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'idp.sqlite3'}"
    settings = Settings().replace(
        server={"public_url": PUBLIC_URL},
        database={"url": database_url},
        redis={"url": ""},
        keys={"kek_file": str(tmp_path / "kek")},
    )
    services = build_services(settings, create_kek=True)
    try:
        upgrade(services.engine)
        env = {"IDP_DATABASE__URL": database_url, "IDP_KEYS__KEK_FILE": str(tmp_path / "kek")}
        made = grow(Backend("sqlite", "test", tmp_path, env), 3)
        client = create_app(services=services).test_client()
        signing_kids, es256_points = set(), set()
        for tenant in made:
            pair = f"{tenant.credentials.client_id}:{tenant.credentials.client_secret}"
            response = client.post(
                f"/t/{tenant.slug}/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
            )
            assert response.status_code == 200, response.get_data(as_text=True)
            token = response.get_json()["access_token"]
            assert segment(token, 0)["alg"] == "ES256"
            assert segment(token, 1)["iss"] == f"{PUBLIC_URL}/t/{tenant.slug}"
            signing_kids.add(segment(token, 0)["kid"])

            view = services.tenant_cache.get(tenant.slug)
            assert view is not None
            ring = services.key_cache.ring(view.id)
            now = datetime.now(UTC)
            _, claims = verify(token, ring, now)
            assert claims["iss"] == f"{PUBLIC_URL}/t/{tenant.slug}"
            es256_points.update(k.public_jwk["x"] for k in ring.keys if k.alg == "ES256")
            assert {key.alg for key in ring.keys} == {"RS256", "PS256", "ES256", "EdDSA"}
            rsa = ring.signer("RS256", now)
            assert rsa is not None and rsa.key is not None  # the pooled material parses
        assert len(signing_kids) == len(es256_points) == len(made)
    finally:
        services.close()
