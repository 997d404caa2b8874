"""Rendering a hosted page (DESIGN §11): one place that gives every page the tenant's branding,
the person's language, the CSRF field, an operator's per-tenant template override and a
Content-Security-Policy that lets the page's form and images work and nothing else.

Views call `render_page`; a page of an authorization request passes its transaction, so the
request's `ui_locales` chooses the language and the form may continue to the client.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, current_app, has_request_context, render_template, request
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from idp import i18n
from idp.context import current_tenant, issuer
from idp.http.pages.cookies import CSRF_FIELD, csrf_token
from idp.services.errors import InvalidInput, InvalidInputs
from idp.services.signin.authorization import Transaction
from idp.services.tenancy.branding import Branding
from idp.services.tenancy.tenants import TenantView

# Templates an operator overrides for one tenant live at {template_overrides}/{slug}/{name}.
OVERRIDES = "tenant-overrides"
LAYOUT = "layouts/base.html"


@dataclass(frozen=True)
class FieldError:
    """One field's problem: shown beside the field and linked from the page's error summary."""

    field: str
    message: str

    @classmethod
    def all_of(cls, error: InvalidInput | InvalidInputs) -> list[FieldError]:
        problems = error.problems if isinstance(error, InvalidInputs) else [error]
        return [cls(problem.field.replace(".", "-"), problem.message) for problem in problems]


def install(app: Flask, overrides_dir: str) -> None:
    """Translations in every template, the language of each request, and the operator's
    per-tenant overrides (read again when changed: no restart, no build step)."""
    i18n.install(app.jinja_env)
    if overrides_dir:
        app.jinja_env.loader = ChoiceLoader(
            [PrefixLoader({OVERRIDES: FileSystemLoader(overrides_dir)}), app.jinja_env.loader]  # type: ignore[list-item]
        )
        app.jinja_env.auto_reload = True
    app.jinja_env.globals["layout"] = LAYOUT

    @app.before_request
    def choose_language() -> None:
        # `ui_locales` (OIDC Core §3.1.2.1) on any page's URL, else the browser's preference;
        # a page of an authorization request uses that request's choice (render_page).
        asked = request.args.get("ui_locales", "")[:256].split()
        i18n.set_language(i18n.negotiate([*asked, *request.accept_languages.values()]))


def template_for(name: str, tenant: TenantView | None) -> list[str]:
    """The tenant's own version of a template when the operator provides one."""
    if tenant is None or not current_app.config.get("IDP_TEMPLATE_OVERRIDES"):
        return [name]
    return [f"{OVERRIDES}/{tenant.slug}/{name}", name]


def render_page(
    template: str,
    *,
    transaction: Transaction | None = None,
    status: int = 200,
    form_target: str | None = None,
    image_origins: Iterable[str] = (),
    errors: Sequence[FieldError] = (),
    **context: Any,
) -> Response:
    """A hosted page of the current tenant.

    `form_target` (a URL) is where the page's form may end up after its redirect: by default
    the client of `transaction`. `errors` fill the error summary and mark their fields.
    """
    tenant = current_tenant()
    if (
        transaction is not None
        and transaction.request.ui_locale
        and "ui_locales" not in request.args
    ):
        i18n.set_language(transaction.request.ui_locale)
    brand = Branding.of(tenant)
    env = current_app.jinja_env
    layout = env.select_template(template_for(LAYOUT, tenant))
    html = render_template(
        env.select_template(template_for(template, tenant)),
        csrf=csrf_token(),
        csrf_field=CSRF_FIELD,
        tenant=tenant,
        brand=brand,
        lang=i18n.current_language(),
        layout=layout,
        links=page_links(tenant, transaction),
        errors=list(errors),
        field_errors={error.field: error.message for error in errors},
        **context,
    )
    response = Response(html, status=status, mimetype="text/html")
    if form_target is None and transaction is not None:
        form_target = transaction.request.redirect_uri
    images = [*image_origins, *([_origin(brand.logo_url)] if brand.logo_url else [])]
    response.headers["Content-Security-Policy"] = page_csp(form_target, images)
    return response


def page_csp(form_target: str | None = None, image_origins: Iterable[str] = ()) -> str:
    """Our HTML policy, widened only as far as this page needs.

    Browsers apply `form-action` to the redirects that follow a form submission too (CSP Level 3
    §6.4.1): a login or consent POST that ends in a redirect to the client needs the client's
    origin there. Images (the tenant's logo, a client's logo) come from their https origin.
    """
    forms = "'self'"
    if form_target:
        parts = urlsplit(form_target)
        forms += f" {parts.scheme}://{parts.netloc}" if parts.netloc else f" {parts.scheme}:"
    images = " ".join(dict.fromkeys(["'self'", *image_origins]))
    return (
        f"default-src 'self'; img-src {images}; frame-ancestors 'none'; base-uri 'none'; "
        f"form-action {forms}"
    )


@dataclass(frozen=True)
class PageLinks:
    """Links between the hosted pages, carrying the authorization request along."""

    login: str
    signup: str | None  # only when the tenant lets people sign up
    forgot_password: str
    resend_verification: str
    magic_link: str | None  # only when the tenant signs people in by mailed links
    languages: list[tuple[str, str, str]]  # (code, name in itself, this page in it)


def page_links(tenant: TenantView, transaction: Transaction | None) -> PageLinks:
    base = issuer()
    txn = {"txn": transaction.id} if transaction is not None else {}

    def to(path: str) -> str:
        return f"{base}{path}?{urlencode(txn)}" if txn else f"{base}{path}"

    here = request.path if has_request_context() else ""
    args = {k: v for k, v in request.args.items() if k != "ui_locales"} if here else {}
    languages = [
        (code, i18n.display_name(code), f"{here}?{urlencode({**args, 'ui_locales': code})}")
        for code in i18n.LANGUAGES
    ]
    return PageLinks(
        login=to("/login"),
        signup=to("/signup") if tenant.self_registration else None,
        forgot_password=to("/password/forgot"),
        resend_verification=to("/email/verify/resend"),
        magic_link=to("/magic") if "magic_link" in tenant.sign_in_methods else None,
        languages=languages,
    )


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"
