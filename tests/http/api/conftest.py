"""Management API fixtures: keys made through the real services, and a response checker that
validates every answer against our own OpenAPI document."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from jsonschema import Draft202012Validator

from idp.services.management.api_keys import OPERATOR, create_api_key


class Api:
    """A bearer-authenticated client of /api/v1 that checks each response against the spec."""

    def __init__(self, base: str, token: str | None, spec: dict[str, Any]) -> None:
        self.base = f"{base}/api/v1"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.spec = spec

    def call(
        self, method: str, path: str, template: str | None = None, **kwargs: Any
    ) -> requests.Response:
        response = self.session.request(method, self.base + path, **kwargs)
        check_against_spec(self.spec, method, template or path, response)
        return response

    def get(self, path: str, template: str | None = None, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, template, **kwargs)

    def post(self, path: str, template: str | None = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, template, **kwargs)

    def patch(self, path: str, template: str | None = None, **kwargs: Any) -> requests.Response:
        return self.call("PATCH", path, template, **kwargs)

    def delete(self, path: str, template: str | None = None, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, template, **kwargs)


def check_against_spec(
    spec: dict[str, Any], method: str, template: str, response: requests.Response
) -> None:
    """The status is documented for the operation and the body matches its schema."""
    operation = spec["paths"][template][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {template} answered undocumented {status}"
    documented = operation["responses"][status]
    if "content" not in documented:
        assert not response.content
        return
    media_type = response.headers["Content-Type"].split(";")[0]
    assert media_type in documented["content"], f"{method} {template} {status}: {media_type}"
    schema = {**documented["content"][media_type]["schema"], "components": spec["components"]}
    Draft202012Validator(schema).validate(response.json())


@pytest.fixture(scope="session")
def api_spec(server) -> dict[str, Any]:
    return requests.get(f"{server.url}/api/v1/openapi.json").json()


@pytest.fixture
def platform_key(services) -> str:
    return create_api_key(services.uow(), OPERATOR, None, "test platform key", None).secret


@pytest.fixture
def api(server, api_spec):
    """Make an API client for a given bearer token (None: anonymous)."""

    def make(token: str | None) -> Api:
        return Api(server.url, token, api_spec)

    return make


@pytest.fixture
def tenant_key(services):
    """Make a key of one tenant with the given scopes (default: all)."""

    def make(tenant, scopes: tuple[str, ...] | None = None) -> str:
        return create_api_key(services.uow(), OPERATOR, tenant, "test tenant key", scopes).secret

    return make
