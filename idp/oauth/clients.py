"""Our clients as Authlib sees them: a thin ClientMixin over an immutable ClientView."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from authlib.oauth2.rfc6749 import ClientMixin

from idp.services.oauth_clients.clients import ClientView

# http://127.0.0.1[:port]/rest or http://[::1][:port]/rest; "localhost" is not a literal and
# RFC 8252 §8.3 advises against it, so it gets no port leeway.
LOOPBACK = re.compile(r"^http://(127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?(?=[/?]|$)(.*)$")


def same_but_port(requested: str, registered: str) -> bool:
    """Both are http URIs on the same loopback IP literal, equal but for the port."""
    asked, known = LOOPBACK.match(requested), LOOPBACK.match(registered)
    return bool(asked and known and asked.groups() == known.groups())


class OAuthClient(ClientMixin):
    def __init__(self, view: ClientView) -> None:
        self.view = view
        self.client_id = view.client_id

    def get_client_id(self) -> str:
        return self.view.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.view.redirect_uris[0] if self.view.redirect_uris else None

    def get_allowed_scope(self, scope: str) -> str:
        allowed = set(self.view.scopes)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §4.1.3: exact string comparison, no normalisation, no patterns...
        if redirect_uri in self.view.redirect_uris:
            return True
        # ...except, for a native app, the port of a loopback IP literal, which it picks at run
        # time (RFC 8252 §7.3). A web client's server has a fixed address: no leeway there.
        # Everything else, path and query included, must still be identical.
        if self.view.application_type != "native":
            return False
        return any(same_but_port(redirect_uri, uri) for uri in self.view.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return self.view.accepts_secret(client_secret, datetime.now(UTC))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A client authenticates only with the one method it registered, at every endpoint.
        return method == self.view.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.view.response_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.view.grant_types
