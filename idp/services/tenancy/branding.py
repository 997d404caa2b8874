"""A tenant's look on its pages and mails (DESIGN §11): name, logo, colour and custom CSS.

The colour a tenant picks is used where text must stay readable, so we derive what WCAG 2.2
needs from it instead of trusting it: the text on a button takes whichever of white or near
black contrasts more with the colour, and links on our white card use the colour darkened until
it reaches 4.5:1 on the card and on the page around it (success criterion 1.4.3, AA).
"""

from __future__ import annotations

from dataclasses import dataclass

from idp.services.tenancy.tenants import TenantView

DEFAULT_COLOR = "#3b4a6b"
WHITE = "#ffffff"
DARK = "#1d2330"
# The page around our white card (templates/assets/idp.css): links there must read too.
PAGE = "#f5f6f8"
AA_TEXT = 4.5


@dataclass(frozen=True)
class Branding:
    name: str
    color: str
    logo_url: str | None
    on_color: str  # text on a button of `color`
    link_color: str  # `color`, darkened as needed to read on white
    custom_css: str

    @classmethod
    def of(cls, tenant: TenantView) -> Branding:
        # Tenant settings checked the colour (#rrggbb), the logo (https) and the CSS when set.
        color = tenant.primary_color or DEFAULT_COLOR
        return cls(
            name=tenant.display_name or tenant.name,
            color=color,
            logo_url=tenant.logo_url,
            on_color=WHITE if contrast(color, WHITE) >= contrast(color, DARK) else DARK,
            link_color=readable_on_white(color),
            custom_css=tenant.custom_css or "",
        )

    def stylesheet(self) -> str:
        """The tenant's stylesheet: our variables, then the tenant's own rules."""
        variables = (
            f":root {{ --brand: {self.color}; --on-brand: {self.on_color}; "
            f"--link: {self.link_color}; }}\n"
        )
        return variables + self.custom_css + ("\n" if self.custom_css else "")


def _channels(color: str) -> tuple[float, float, float]:
    return tuple(int(color[i : i + 2], 16) / 255 for i in (1, 3, 5))  # type: ignore[return-value]


def luminance(color: str) -> float:
    """Relative luminance (WCAG 2.2, definition of relative luminance)."""

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    lighter, darker = sorted((luminance(first), luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def readable_on_white(color: str) -> str:
    """`color`, darkened in 5% steps until it reads as text on white and on the page (AA)."""
    r, g, b = _channels(color)
    for _ in range(20):
        candidate = "#" + "".join(f"{round(c * 255):02x}" for c in (r, g, b))
        if min(contrast(candidate, WHITE), contrast(candidate, PAGE)) >= AA_TEXT:
            return candidate
        r, g, b = r * 0.95, g * 0.95, b * 0.95
    return DARK
