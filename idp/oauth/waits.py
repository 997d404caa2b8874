"""An OAuth error that is a wait: 429 with Retry-After (RFC 6585 §4).

Client authentication, registration-token and token-exchange failure limits all answer so;
each names its own RFC 6749 `error` code and description.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error


class RetryLater(OAuth2Error):
    status_code = 429
    waiting = "Too many failed attempts; retry later."

    def __init__(self, retry_after: int) -> None:
        super().__init__(description=self.waiting)
        self.retry_after = retry_after

    def get_headers(self) -> list[tuple[str, str]]:
        return [*super().get_headers(), ("Retry-After", str(self.retry_after))]
