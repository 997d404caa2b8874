"""The hosted pages' cookies: the login session id and the CSRF token.

Both are HttpOnly and SameSite=Lax; under an https public URL they are also Secure and carry
the `__Host-` prefix (RFC 6265bis §4.1.3.2), so no other host or path can set or shadow them.
Each tenant has its own session cookie: signing in at one issuer never touches another's.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Response, request

from idp.context import current_tenant, services

CSRF_FIELD = "csrf_token"
MAX_COOKIE = 128


def _secure() -> bool:
    return services().settings.server.public_url.startswith("https://")


def _name(base: str) -> str:
    return f"__Host-{base}" if _secure() else base


def session_cookie_name() -> str:
    return _name(f"idp_session_{current_tenant().slug}")


def session_cookie() -> str | None:
    value = request.cookies.get(session_cookie_name())
    return value if value and len(value) <= MAX_COOKIE else None


def set_session_cookie(response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        session_cookie_name(),
        value,
        max_age=max_age,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",
    )


def csrf_token() -> str:
    """The browser's CSRF token, made on first use; `ensure_csrf_cookie` sends it back."""
    current = request.cookies.get(_name("idp_csrf"))
    if current and len(current) <= MAX_COOKIE:
        return current
    request.environ.setdefault("idp.new_csrf", secrets.token_urlsafe(32))
    return str(request.environ["idp.new_csrf"])


def ensure_csrf_cookie(response: Response) -> Response:
    new = request.environ.get("idp.new_csrf")
    if new:
        response.set_cookie(
            _name("idp_csrf"), new, path="/", secure=_secure(), httponly=True, samesite="Lax"
        )
    return response


def csrf_ok() -> bool:
    """Double-submit check: the form's token equals the cookie's, compared in constant time.

    A cross-site page can make the browser send the cookie but cannot read it, so it cannot
    put the same value in the form.
    """
    cookie = request.cookies.get(_name("idp_csrf"), "")
    sent = request.form.get(CSRF_FIELD, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())


def _account_state_name() -> str:
    return _name(f"idp_account_state_{current_tenant().slug}")


def account_state_cookie() -> str | None:
    """The `state` of the account page's sign-in this browser started (account_access.py)."""
    value = request.cookies.get(_account_state_name())
    return value if value and len(value) <= MAX_COOKIE else None


def set_account_state_cookie(response: Response, state: str, max_age: int) -> None:
    response.set_cookie(
        _account_state_name(),
        state,
        max_age=max_age,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",  # the callback is a top-level navigation from our own /authorize
    )


def clear_account_state_cookie(response: Response) -> None:
    response.delete_cookie(
        _account_state_name(), path="/", secure=_secure(), httponly=True, samesite="Lax"
    )


def _magic_browser_name() -> str:
    return _name(f"idp_magic_{current_tenant().slug}")


def magic_browser_cookie() -> str | None:
    """The value binding a mailed sign-in link to the browser that asked for it (magic.py)."""
    value = request.cookies.get(_magic_browser_name())
    return value if value and len(value) <= MAX_COOKIE else None


def set_magic_browser_cookie(response: Response, value: str, max_age: int) -> None:
    response.set_cookie(
        _magic_browser_name(),
        value,
        max_age=max_age,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Lax",  # sent when the link is opened from a webmail: a top-level GET
    )


def clear_magic_browser_cookie(response: Response) -> None:
    response.delete_cookie(
        _magic_browser_name(), path="/", secure=_secure(), httponly=True, samesite="Lax"
    )


def _passkey_name() -> str:
    return _name(f"idp_passkey_{current_tenant().slug}")


def passkey_ceremony_cookie() -> str | None:
    """The handle of the passkey ceremony this browser started (pages/passkeys.py)."""
    value = request.cookies.get(_passkey_name())
    return value if value and len(value) <= MAX_COOKIE else None


def set_passkey_ceremony_cookie(response: Response, handle: str, max_age: int) -> None:
    # Strict: only our own pages' scripts post the ceremony's answer.
    response.set_cookie(
        _passkey_name(),
        handle,
        max_age=max_age,
        path="/",
        secure=_secure(),
        httponly=True,
        samesite="Strict",
    )


def clear_passkey_ceremony_cookie(response: Response) -> None:
    response.delete_cookie(
        _passkey_name(), path="/", secure=_secure(), httponly=True, samesite="Strict"
    )


def _read(name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and len(value) <= MAX_COOKIE else None


def _write(response: Response, name: str, value: str, max_age: int) -> None:
    """HttpOnly, SameSite=Lax: sent on the top-level GET back from an upstream's site."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=_secure(), httponly=True, samesite="Lax"
    )


def _federation_name() -> str:
    return _name(f"idp_federation_{current_tenant().slug}")


def federation_browser_cookie() -> str | None:
    """The value binding upstream round trips to this browser (pages/federation.py)."""
    return _read(_federation_name())


def set_federation_browser_cookie(response: Response, value: str, max_age: int) -> None:
    _write(response, _federation_name(), value, max_age)


def _pending_link_name() -> str:
    return _name(f"idp_federation_link_{current_tenant().slug}")


def pending_link_cookie() -> str | None:
    """The handle of the upstream identity waiting for its owner's proof (pages/federation.py)."""
    return _read(_pending_link_name())


def set_pending_link_cookie(response: Response, value: str, max_age: int) -> None:
    _write(response, _pending_link_name(), value, max_age)


def clear_pending_link_cookie(response: Response) -> None:
    response.delete_cookie(
        _pending_link_name(), path="/", secure=_secure(), httponly=True, samesite="Lax"
    )
