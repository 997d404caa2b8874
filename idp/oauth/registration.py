"""The registration endpoint (RFC 7591) and client configuration endpoint (RFC 7592).

Registered with the Authlib server like introspection and revocation, so errors come out of the
same `handle_error_response` as every other protocol error. They do not subclass Authlib's
`ClientRegistrationEndpoint` / `ClientConfigurationEndpoint`, because what those classes do is
exactly what must be done differently here:

- they validate metadata with Authlib's `ClientMetadataClaims`, a second set of rules (it allows
  `http` redirect URIs anywhere, for one); ours is `ClientSpec.validate()`, used by every client;
- they answer with the metadata as requested plus a generated `client_secret` for every client,
  where RFC 7591 §3.2.1 wants what was registered (with our defaults filled in) and a secret only
  for clients that authenticate with one;
- a missing or bad token is 403 `access_denied` there; RFC 7591 §3 and RFC 7592 §2 point to
  RFC 6750, whose answer is 401 `invalid_token` with `WWW-Authenticate`;
- an update with a stale field is refused there; RFC 7592 §2.2 puts that rule on the client, and
  clients commonly send back the read response unchanged, so we ignore those fields.

So the protocol shape lives here and the rules in services/oauth_clients/registration.py.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from authlib.consts import default_json_headers
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc6750 import InvalidTokenError
from authlib.oauth2.rfc7591 import InvalidClientMetadataError, InvalidRedirectURIError
from flask import g
from flask import request as flask_request

from idp.context import client_ip, current_tenant, issuer, services
from idp.models.uow import UnitOfWork
from idp.oauth.clients import OAuthClient
from idp.oauth.waits import RetryLater
from idp.services.audit import DENIED, FAILED, SUCCESS, AuditEntry, record_event
from idp.services.errors import InvalidInput, NotFound
from idp.services.json_text import strings_of, unstorable
from idp.services.oauth_clients import registration
from idp.services.oauth_clients.clients import ClientView
from idp.services.oauth_clients.registration import (
    Admission,
    InvalidRegistrationToken,
    Registration,
    RegistrationClosed,
)
from idp.services.rate_limits import FailureLimiter, WindowLimiter

JSON = "application/json"
# RFC 7591 §3.2.1 / RFC 7592 §3: server-provisioned fields a client may send back on update.
PROVISIONED = frozenset(
    {
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
        "client_id",
        "client_secret",
    }
)
log = logging.getLogger(__name__)
NO_STORE = [("Cache-Control", "no-store"), ("Pragma", "no-cache")]


class RegistrationNotOffered(OAuth2Error):
    """404: for this tenant the endpoint does not exist.

    RFC 7591 has no error for "registration is off"; discovery leaves `registration_endpoint`
    out (RFC 8414 §2), so to a client the resource simply is not there (RFC 9110 §15.5.5).
    `access_denied` (Authlib's choice) would suggest a credential could open it, and no token
    can. `invalid_request` is what our other 404s (unknown issuer, unknown path) answer.
    """

    error = "invalid_request"
    status_code = 404


class BearerTokenInvalid(InvalidTokenError):
    """RFC 6750 §3.1: 401 `invalid_token`; with no credentials at all the challenge carries no
    error attributes (RFC 6750 §3.1 SHOULD NOT), only the realm."""

    def __init__(self, description: str, presented: bool) -> None:
        super().__init__(description=description, realm=issuer())
        self.presented = presented

    def get_headers(self) -> list[tuple[str, str]]:
        if self.presented:
            return super().get_headers()  # type: ignore[no-any-return]
        headers = OAuth2Error.get_headers(self)
        return [*headers, ("WWW-Authenticate", f'Bearer realm="{self.realm}"')]


class TooManyTokenFailures(RetryLater):
    """Past the failure limit for this address at this tenant: 429 with Retry-After."""

    error = "invalid_token"
    waiting = "Too many failed attempts; retry later."


class TooManyRegistrations(RetryLater):
    """Past `rate_limits.open_registrations_per_ip` at this tenant: 429 with Retry-After."""

    error = "invalid_request"
    waiting = "Too many registrations from this address; retry later."


class RegistrationEndpoint:
    """Shared by both endpoints: the JSON body, bearer tokens, the failure limit, audit."""

    ENDPOINT_NAME = ""

    def __init__(self, server: Any) -> None:
        self.server = server

    @property
    def failures(self) -> FailureLimiter:
        # The limiter of failed client authentication at this tenant: guessing a registration
        # token is guessing a credential of the tenant all the same.
        return self.server.failures  # type: ignore[no-any-return]

    def create_endpoint_request(self, request: Any) -> Any:
        return self.server.create_json_request(request)

    def bearer_token(self) -> str | None:
        scheme, _, token = flask_request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def check_not_blocked(self) -> None:
        retry_after = self.failures.retry_after(self.source())
        if retry_after:
            raise TooManyTokenFailures(retry_after)

    def reject_token(self, error: InvalidRegistrationToken, target: str | None) -> OAuth2Error:
        """Count the failure, audit it, and answer 401 (or 429 once this trips the limit)."""
        presented = self.bearer_token() is not None
        retry_after = self.failures.record_failure(self.source())
        audit(
            "registration.token_rejected",
            "anonymous",
            target,
            FAILED,
            {"method": flask_request.method, "endpoint": self.ENDPOINT_NAME, "sent": presented},
        )
        if retry_after:
            audit("registration.rate_limited", "anonymous", target, DENIED, {"retry": retry_after})
            return TooManyTokenFailures(retry_after)
        return BearerTokenInvalid(str(error), presented)

    def source(self) -> str:
        return f"{current_tenant().id}:{client_ip()}"

    def response(
        self, status: int, registered: Registration, token: str
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """RFC 7591 §3.2.1 / RFC 7592 §3: metadata, secrets if just issued, how to manage it."""
        body = registration.client_metadata(registered.client)
        if registered.client_secret:
            body["client_secret"] = registered.client_secret
        body["registration_access_token"] = token
        body["registration_client_uri"] = client_uri(registered.client.client_id)
        return status, body, default_json_headers


class ClientRegistration(RegistrationEndpoint):
    """RFC 7591 §3.1: `POST {issuer}/register`."""

    ENDPOINT_NAME = "client_registration"

    def __call__(self, request: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        self.check_not_blocked()
        uow = services().uow()
        admission = self.admit(uow)
        if admission.initial_token_id is None:
            self.count_open_registration()
        metadata = read_metadata()
        try:
            registered = registration.register(uow, admission, metadata)
        except InvalidRegistrationToken as error:  # its last use was spent meanwhile
            raise self.reject_token(error, None) from error
        except InvalidInput as error:
            if admission.initial_token_id:
                # A holder of this tenant's token: its refusals are audited under that token.
                actor = f"dcr:{admission.initial_token_id}"
                audit("client.register", actor, None, FAILED, fields(metadata))
            raise metadata_error(error) from error
        actor = f"dcr:{registered.initial_token_id or registered.client.client_id}"
        audit("client.register", actor, registered.client.client_id, SUCCESS, fields(metadata))
        return self.response(201, registered, registered.registration_token or "")

    def count_open_registration(self) -> None:
        """Anyone may register at a tenant that requires no initial access token: each attempt
        counts against its address, valid or not, so nobody can fill the tenant with clients."""
        container = services()
        limits = container.settings.rate_limits
        limiter = WindowLimiter(
            container.store,
            "open-registration",
            limits.open_registrations_per_ip,
            limits.open_registration_window_seconds,
        )
        retry_after = limiter.hit(self.source())
        if retry_after:  # not audited: each refusal would be a row a stranger makes us write
            raise TooManyRegistrations(retry_after)

    def admit(self, uow: UnitOfWork) -> Admission:
        try:
            return registration.admit(uow, current_tenant(), self.bearer_token())
        except RegistrationClosed as error:
            raise RegistrationNotOffered(str(error)) from error
        except InvalidRegistrationToken as error:
            raise self.reject_token(error, None) from error


class ClientConfiguration(RegistrationEndpoint):
    """RFC 7592 §2: `GET/PUT/DELETE {issuer}/register/{client_id}` with the client's
    registration access token."""

    ENDPOINT_NAME = "client_configuration"

    def __call__(self, request: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        self.check_not_blocked()
        client_id = str((flask_request.view_args or {}).get("client_id", ""))
        token = self.bearer_token()
        uow = services().uow()
        tenant = current_tenant()
        try:
            client = registration.authenticate(uow, tenant, client_id, token)
        except RegistrationClosed as error:
            raise RegistrationNotOffered(str(error)) from error
        except InvalidRegistrationToken as error:
            raise self.reject_token(error, client_id) from error
        token = token or ""
        if flask_request.method == "GET":
            return self.response(200, Registration(client), token)
        if flask_request.method == "DELETE":
            try:
                registration.deregister(uow, tenant, client)
            except NotFound as error:  # deleted meanwhile: its token died with it
                raise BearerTokenInvalid("The client no longer exists.", True) from error
            audit("client.delete", f"dcr:{client_id}", client_id, SUCCESS, {"protocol": "rfc7592"})
            return 204, "", NO_STORE
        return self.update(client, token)

    def update(
        self, client: ClientView, token: str
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        metadata = read_metadata()
        check_update_request(metadata, client)
        actor = f"dcr:{client.client_id}"
        changes = {name: value for name, value in metadata.items() if name not in PROVISIONED}
        try:
            updated = registration.update(services().uow(), current_tenant(), client, changes)
        except NotFound as error:
            raise BearerTokenInvalid("The client no longer exists.", True) from error
        except InvalidInput as error:
            audit("client.update", actor, client.client_id, FAILED, fields(metadata))
            raise metadata_error(error) from error
        audit("client.update", actor, client.client_id, SUCCESS, fields(metadata))
        return self.response(200, Registration(updated), token)


def check_update_request(metadata: dict[str, Any], client: ClientView) -> None:
    """RFC 7592 §2.2: the body names the same client, and never chooses its own secret."""
    if metadata.get("client_id") != client.client_id:
        raise InvalidRequestError("The body must contain this client's client_id.")
    secret = metadata.get("client_secret")
    if secret is not None and not (
        isinstance(secret, str) and OAuthClient(client).check_client_secret(secret)
    ):
        raise InvalidRequestError("client_secret does not match; it cannot be chosen.")


def read_metadata() -> dict[str, Any]:
    """The request's JSON object (RFC 7591 §3.1).

    Parsed here rather than by `request.get_json()`: NaN and Infinity are not JSON (RFC 8259 §6)
    and a database's JSON column refuses them; control characters have no place in any
    metadata value, and no database stores U+0000 or an unpaired surrogate.
    """
    if flask_request.mimetype != JSON:
        raise InvalidRequestError(f"The body must be {JSON}.")
    try:
        data = json.loads(flask_request.get_data(cache=True), parse_constant=_not_json)
    except ValueError:
        raise InvalidRequestError("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("The body must be a JSON object.")
    if any(_unfit_text(text) for text in strings_of(data)):
        raise InvalidClientMetadataError(
            "Metadata must not contain control characters or unpaired surrogates."
        )
    return data


def metadata_error(error: InvalidInput) -> OAuth2Error:
    """RFC 7591 §3.2.2: 400 with `invalid_redirect_uri` or `invalid_client_metadata`."""
    description = safe_description(f"{error.field}: {error.message}")
    if registration.is_redirect_field(error.field):
        return InvalidRedirectURIError(description)
    return InvalidClientMetadataError(description)


def safe_description(text: str) -> str:
    """RFC 6749 §5.2 allows only %x20-21 / %x23-5B / %x5D-7E in `error_description`; messages
    may quote the caller's own values, so anything else becomes '?'."""
    for char in invalid_error_characters(text):
        text = text.replace(char, "?")
    return text[:300]


def client_uri(client_id: str) -> str:
    return f"{issuer()}/register/{client_id}"


def fields(metadata: dict[str, Any]) -> dict[str, Any]:
    """Names of the RFC 7591 fields sent (never values), as the management API audits."""
    known = registration.KNOWN_FIELDS
    return {"fields": sorted(name for name in metadata if name in known)}


def audit(
    action: str, actor: str, target: str | None, outcome: str, details: dict[str, Any]
) -> None:
    entry = AuditEntry(
        action=action,
        actor=actor,
        tenant_id=current_tenant().id,
        target_type="client",
        target_id=target,
        outcome=outcome,
        client_ip=client_ip(),
        request_id=g.get("request_id"),
        details=details,
    )
    try:
        record_event(services().uow(), entry)
    except Exception:  # the answer must not turn into a 500 for want of a log row
        log.exception("audit event %s not recorded", action)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _unfit_text(text: str) -> bool:
    """A control character, or what no database stores (services/json_text.py)."""
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text) or unstorable(text)
