"""Operations: liveness, readiness, request ids, and friendly error pages without stack traces."""

from __future__ import annotations


def test_healthz_and_readyz_report_ok(server, http):
    assert http.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = http.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "store": "ok"}}


def test_a_well_formed_request_id_is_echoed_and_a_bad_one_replaced(server, http):
    echoed = http.get(f"{server.url}/healthz", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["X-Request-Id"] == "abc-123"
    replaced = http.get(f"{server.url}/healthz", headers={"X-Request-Id": "<script>"})
    assert replaced.headers["X-Request-Id"] not in ("", "<script>")


def test_unknown_page_is_a_friendly_html_page_with_request_id_and_security_headers(server, http):
    response = http.get(f"{server.url}/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["X-Request-Id"] in response.text
    assert "Traceback" not in response.text
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_unknown_issuer_answers_protocol_json(server, http):
    response = http.get(f"{server.url}/t/nobody-here/.well-known/openid-configuration")
    assert response.status_code == 404
    assert response.json()["error"] == "invalid_request"
