"""OAuth 2.0 client-side pieces shared by the OpenID and GitHub adapters."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from idp.federation.base import UpstreamError
from idp.federation.http import JsonReply


def append_query(endpoint: str, params: dict[str, str]) -> str:
    """`endpoint` with `params` added, keeping any query it already has (RFC 6749 §3.1)."""
    return endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)


def raise_for_oauth_error(reply: JsonReply) -> None:
    """An RFC 6749 §5.2 error answer becomes `upstream_error` naming its code.

    GitHub sends its errors with status 200, so the body decides, not the status.
    """
    if isinstance(reply.data, dict) and "error" in reply.data:
        raise UpstreamError("upstream_error", str(reply.data["error"])[:100])


def text(value: Any) -> str | None:
    """A claim's value when it is a non-empty string; upstream JSON may hold anything."""
    return value if isinstance(value, str) and value else None


def callback_error(error: str | None) -> UpstreamError:
    """The failure an upstream reported on our callback (`?error=...`, RFC 6749 §4.1.2.1):
    `access_denied` when the person cancelled there, `upstream_error` for anything else."""
    if error == "access_denied":
        return UpstreamError("access_denied", "the person cancelled at the upstream")
    return UpstreamError("upstream_error", str(error or "no code")[:100])
