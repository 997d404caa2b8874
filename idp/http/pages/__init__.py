"""Hosted pages under {issuer}/ (DESIGN §1, §11): login, consent, logout, password; assets."""

from idp.http.pages.blueprints import branding_bp
from idp.http.pages.logout import bp as logout_bp
from idp.http.pages.password import bp as password_bp
from idp.http.pages.routes import assets_bp, bp

__all__ = ["assets_bp", "bp", "branding_bp", "logout_bp", "password_bp"]
