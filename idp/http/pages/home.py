"""`GET /`: what a newcomer sees first (issue 9 §8) instead of a 404: where each issuer's
discovery document is, where the documentation is, and the demo tenant's account page when
`make run` created it, so the first thing to try is signing in as the demo user."""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from idp.context import services
from idp.http.pages.rendering import page_csp

DEMO_TENANT = "demo"  # the slug `idp demo` creates (idp/cli/lifecycle.py)

bp = Blueprint("home", __name__)


@bp.get("/")
def home() -> Response:
    container = services()
    public_url = container.settings.server.public_url
    demo = container.tenant_cache.get(DEMO_TENANT)
    html = render_template(
        "pages/home.html",
        public_url=public_url,
        demo_issuer=f"{public_url}/t/{demo.slug}" if demo else None,
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = page_csp()
    response.headers["Cache-Control"] = "no-store"
    return response
