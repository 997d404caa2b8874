"""Protocol endpoints under each issuer: `/t/<tenant>/...` (DESIGN §1)."""

from idp.http.oauth.routes import bp, well_known_bp

__all__ = ["bp", "well_known_bp"]
