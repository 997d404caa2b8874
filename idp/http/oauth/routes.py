"""Protocol routes: one line each; the work is in the Authlib server and the services."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, g, request

from idp.context import current_tenant, issuer, issuer_of, services
from idp.http.oauth import cors
from idp.http.oauth.guards import check_form_post, resolve_tenant
from idp.http.oauth.metadata import metadata_json
from idp.http.pages.cookies import session_cookie
from idp.oauth.authorize import authorization_endpoint
from idp.oauth.server import oauth_server
from idp.oauth.userinfo import userinfo_response

bp = Blueprint("oauth", __name__, url_prefix="/t/<tenant>")
bp.url_value_preprocessor(resolve_tenant)
bp.before_request(check_form_post)
cors.install(bp)

# RFC 8414 §3.1: the well-known segment goes between host and the issuer's path.
well_known_bp = Blueprint("well_known", __name__)


def _json(body: str, max_age: int) -> Response:
    response = Response(body, mimetype="application/json")
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


def _metadata() -> Response:
    tenant = current_tenant()
    body = metadata_json(issuer(), tenant.dynamic_registration, tenant.profile_attributes)
    return _json(body, services().settings.keys.jwks_max_age_seconds)


bp.get("/.well-known/openid-configuration")(_metadata)
bp.get("/.well-known/oauth-authorization-server")(_metadata)


@well_known_bp.get("/.well-known/oauth-authorization-server/t/<tenant>")
def metadata_by_path(tenant: str) -> Response:
    resolve_tenant("well_known.metadata_by_path", {"tenant": tenant})
    body = metadata_json(
        issuer_of(g.tenant), g.tenant.dynamic_registration, g.tenant.profile_attributes
    )
    return _json(body, services().settings.keys.jwks_max_age_seconds)


@bp.get("/jwks.json")
def jwks() -> Response:
    container = services()
    ring = container.key_cache.ring(current_tenant().id)
    return _json(ring.jwks_json(datetime.now(UTC)), container.settings.keys.jwks_max_age_seconds)


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    return authorization_endpoint.authorize(session_cookie())


@bp.get("/authorize/resume")
def authorize_resume() -> Response:
    return authorization_endpoint.resume(session_cookie(), request.args.get("txn", ""))


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    return userinfo_response()


@bp.post("/token")
def token() -> Response:
    return oauth_server().create_token_response()


@bp.post("/authorize-challenge")
def authorization_challenge() -> Response:
    return oauth_server().create_endpoint_response("authorization_challenge")


@bp.post("/introspect")
def introspect() -> Response:
    return oauth_server().create_endpoint_response("introspection")


@bp.post("/revoke")
def revoke() -> Response:
    return oauth_server().create_endpoint_response("revocation")


@bp.post("/register")
def register() -> Response:
    return oauth_server().create_endpoint_response("client_registration")


@bp.route("/register/<client_id>", methods=["GET", "PUT", "DELETE"])
def client_configuration(client_id: str) -> Response:
    return oauth_server().create_endpoint_response("client_configuration")
