"""Hosted pages under {issuer}/ (DESIGN §1, §11): login, second factor, consent, logout,
password, sign-up, e-mail verification, sign-in links by mail, upstream providers, account;
assets."""

from flask import Blueprint

from idp.http.pages.account import bp as account_bp
from idp.http.pages.account_access import bp as account_access_bp
from idp.http.pages.account_factors import bp as account_factors_bp
from idp.http.pages.account_federation import bp as account_federation_bp
from idp.http.pages.account_passkeys import bp as account_passkeys_bp
from idp.http.pages.account_public import bp as account_public_bp
from idp.http.pages.account_security import bp as account_security_bp
from idp.http.pages.blueprints import branding_bp
from idp.http.pages.federation import bp as federation_bp
from idp.http.pages.federation_link import bp as federation_link_bp
from idp.http.pages.home import bp as home_bp
from idp.http.pages.logout import bp as logout_bp
from idp.http.pages.magic import bp as magic_bp
from idp.http.pages.mfa import bp as mfa_bp
from idp.http.pages.passkeys import bp as passkeys_bp
from idp.http.pages.password import bp as password_bp
from idp.http.pages.routes import assets_bp, bp
from idp.http.pages.signup import bp as signup_bp

# Every blueprint of the hosted pages, as create_app registers them.
BLUEPRINTS: tuple[Blueprint, ...] = (
    bp,
    mfa_bp,
    logout_bp,
    password_bp,
    signup_bp,
    magic_bp,
    federation_bp,
    federation_link_bp,
    account_access_bp,
    account_bp,
    account_security_bp,
    account_factors_bp,
    account_passkeys_bp,
    account_federation_bp,
    passkeys_bp,
    account_public_bp,
    assets_bp,
    branding_bp,
    home_bp,
)

__all__ = ["BLUEPRINTS"]
