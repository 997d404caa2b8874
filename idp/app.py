"""The WSGI application: `create_app()` wires the pieces together and does nothing else."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from idp.http import errors, ops, security, url_values
from idp.http.api import bp as api_bp
from idp.http.oauth import bp as oauth_bp
from idp.http.oauth import well_known_bp
from idp.http.oauth.documents import PublicDocuments
from idp.http.oauth.fast_path import FastPath
from idp.http.oauth.token_limit import TokenRateLimit
from idp.http.pages import BLUEPRINTS as PAGE_BLUEPRINTS
from idp.http.pages import rendering
from idp.models.schema import ensure_current
from idp.oauth.server import TenantAuthorizationServer
from idp.services.container import Services, build_services
from idp.services.rate_limits import FailureLimiter
from idp.settings import Settings, load_settings

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    """Build the WSGI app; refuses a database that is not migrated to the newest revision."""
    if services is None:
        settings = settings or load_settings()
        security.configure_logging(settings.logging.level)
        services = build_services(settings)
    settings = services.settings
    ensure_current(services.engine)

    app = Flask(__name__, template_folder=str(TEMPLATES), static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_body_bytes
    app.config["IDP_TEMPLATE_OVERRIDES"] = settings.pages.template_overrides
    app.extensions["idp.services"] = services
    failures = FailureLimiter(
        services.store, "client-auth", settings.rate_limits.failed_auth_per_minute, window=60
    )
    app.extensions["idp.oauth"] = TenantAuthorizationServer(app, failures)

    https = settings.server.public_url.startswith("https://")
    security.install(app, settings.server.request_id_header, https=https)
    url_values.install(app)
    # Outermost last: the public documents need no client address; the fast path (its failure
    # limiter) and the token endpoint's rate limit do, so they sit inside ProxyFix.
    app.wsgi_app = FastPath(app.wsgi_app, services, failures, https)  # type: ignore[method-assign]
    app.wsgi_app = TokenRateLimit(app.wsgi_app, services.token_requests)  # type: ignore[method-assign]
    if settings.server.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    app.wsgi_app = PublicDocuments(app.wsgi_app, services, https)  # type: ignore[method-assign]
    errors.register_error_handlers(app)
    rendering.install(app, settings.pages.template_overrides)
    app.register_blueprint(ops.bp)
    app.register_blueprint(well_known_bp)
    app.register_blueprint(oauth_bp)
    for blueprint in PAGE_BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.register_blueprint(api_bp)
    return app
