"""The JWKS and discovery documents are answered before Flask (idp/http/oauth/documents.py).
Whichever path answers, a client sees the same document with the same headers: these tests ask
each question once on the fast path and once on the Flask path (a request with `Origin` always
goes through Flask, for CORS) and compare."""

from __future__ import annotations

import pytest

from idp.http.oauth.documents import PublicDocuments

# Headers that must be the same on both paths; CORS and per-request ones are compared apart.
COMPARED = (
    "Content-Type",
    "Cache-Control",
    "X-Content-Type-Options",
    "Referrer-Policy",
    "X-Frame-Options",
    "Content-Security-Policy",
)
UNREGISTERED_ORIGIN = "https://nobody.example.com"


@pytest.fixture
def documents(make, module_tenant, server):
    issuer = make.issuer(module_tenant)
    return {
        "jwks": f"{issuer}/jwks.json",
        "openid": f"{issuer}/.well-known/openid-configuration",
        "rfc8414": f"{issuer}/.well-known/oauth-authorization-server",
        "rfc8414-by-path": (
            f"{server.url}/.well-known/oauth-authorization-server/t/{module_tenant.slug}"
        ),
    }


@pytest.mark.parametrize("document", ["jwks", "openid", "rfc8414", "rfc8414-by-path"])
def test_both_paths_answer_the_same_document_with_the_same_headers(http, documents, document):
    fast = http.get(documents[document])
    through_flask = http.get(documents[document], headers={"Origin": UNREGISTERED_ORIGIN})
    assert fast.status_code == through_flask.status_code == 200
    assert fast.json() == through_flask.json()
    for name in COMPARED:
        assert fast.headers.get(name) == through_flask.headers.get(name), name
    assert fast.headers["Cache-Control"].startswith("public, max-age=")
    assert "Access-Control-Allow-Origin" not in fast.headers
    assert fast.headers.get("Vary") == through_flask.headers.get("Vary")


def test_the_jwks_varies_by_origin_for_shared_caches(http, documents):
    assert http.get(documents["jwks"]).headers["Vary"] == "Origin"


def test_request_ids_are_echoed_or_replaced_on_the_fast_path(http, documents):
    echoed = http.get(documents["jwks"], headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["X-Request-Id"] == "abc-123"
    replaced = http.get(documents["openid"], headers={"X-Request-Id": "<script>"})
    assert replaced.headers["X-Request-Id"] not in ("", "<script>")


@pytest.mark.parametrize(
    "path",
    [
        "/t/nobody-here/jwks.json",
        "/t/NOT_A_SLUG/jwks.json",
        "/t/nobody-here/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/t/nobody-here",
    ],
)
def test_an_unknown_issuer_falls_through_to_the_protocol_404(server, http, path):
    response = http.get(f"{server.url}{path}")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_request"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_other_methods_are_answered_by_flask(http, documents):
    head = http.head(documents["jwks"])
    assert head.status_code == 200 and head.content == b""
    post = http.post(documents["openid"])
    assert post.status_code == 405


def test_the_documents_are_answered_without_flask_and_everything_else_with_it(
    services, module_tenant
):
    """The middleware itself, around a stand-in for the Flask app that records what reaches it."""
    reached: list[str] = []

    def flask_app(environ, start_response):
        reached.append(environ["PATH_INFO"])
        start_response("204 No Content", [])
        return [b""]

    middleware = PublicDocuments(flask_app, services, https=False)
    slug = module_tenant.slug

    def get(path: str, **environ: str) -> str:
        statuses: list[str] = []
        body = b"".join(
            middleware(
                {"REQUEST_METHOD": "GET", "PATH_INFO": path, **environ},
                lambda status, headers: statuses.append(status),
            )
        )
        assert body or statuses == ["204 No Content"]
        return statuses[0]

    assert get(f"/t/{slug}/jwks.json") == "200 OK"
    assert get(f"/t/{slug}/.well-known/openid-configuration") == "200 OK"
    assert get(f"/.well-known/oauth-authorization-server/t/{slug}") == "200 OK"
    assert reached == []
    get(f"/t/{slug}/jwks.json", HTTP_ORIGIN=UNREGISTERED_ORIGIN)
    get(f"/t/{slug}/jwks.json/extra")
    get("/t/nobody-here/jwks.json")
    get(f"/t/{slug}/token")
    assert reached == [
        f"/t/{slug}/jwks.json",
        f"/t/{slug}/jwks.json/extra",
        "/t/nobody-here/jwks.json",
        f"/t/{slug}/token",
    ]


@pytest.mark.parametrize("document", ["openid", "rfc8414"])
def test_both_paths_list_the_three_acr_values(http, documents, document):
    """1: one factor, 2: two factors, 3: a passkey with user verification (claims.py)."""
    fast = http.get(documents[document]).json()
    through_flask = http.get(documents[document], headers={"Origin": UNREGISTERED_ORIGIN}).json()
    assert fast["acr_values_supported"] == through_flask["acr_values_supported"] == ["1", "2", "3"]
