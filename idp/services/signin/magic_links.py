"""Sign-in by a link or a code sent by mail (issue 10 §3; seed 001 `auth/magic-link`, `verify`).

A person who asks at `{issuer}/magic` gets one mail holding a link and a six-digit code: single
use, valid 10 minutes, voided by a newer one (one live `account_links` row of purpose
MAGIC_LINK per person, its token stored as a digest, DESIGN §6).

**Bound to the browser that asked.** Asking sets a random value (256 bits) in an HttpOnly
cookie of that browser; the link's payload holds its digest, and the digest of the code bound
to it. Only a request carrying that cookie can spend the link or the code:
- the link opened in that browser signs in there and resumes the authorization request it
  came with (its `txn` travels in the payload), through the same session-opening code as a
  password (`sessions.open_session`: a fresh session id, so nothing planted survives);
- the code typed in that browser does the same; five wrong codes void the link and the code
  (the counter and the browser's pointer to its link live in the short-lived store: losing
  them loses both, so the flow fails and nobody gets more tries, DESIGN §3);
- the link opened anywhere else (another browser or device, a mail scanner's GET or HEAD)
  spends nothing and signs nobody in there. A confirm button (a POST, which scanners do not
  send) shows the code, to be typed in the browser that asked.

**Why the other browser never approves the first one.** Had a confirm in the other browser
let the waiting browser in, an attacker could ask a link for a victim's address in their
own browser, and the victim, seeing a genuine mail from us and pressing "confirm", would sign
the attacker in (login CSRF turned into account takeover). Here a confirm only reveals what
the mail already holds, and that code works only in the browser holding the cookie, and only
when someone types it there: the attacker needs the victim to hand over the code, which the
mail and the page warn against, as for any one-time code. The reverse (a victim's browser
signed in to the attacker's account with the attacker's link) needs our HttpOnly cookie,
which a victim's browser only gets by asking itself on a CSRF-protected form.

**What the session says.** RFC 8176 has no value for "proved control of the mailbox", so the
session's `amr` is our own `"email"` (DESIGN §13): one factor, the same `acr` as a password.
Proving the mailbox is what a verification link proves, so the address counts as verified.

Every address gets the same answer and the same throttling (per address, known or not, and
per client IP); each request and each sign-in (success or wrong code) is audited, and
successes are counted in the usage analytics as a password sign-in is. A wrong code counts
towards the account's and the address's lockout like a wrong password (services/signin/
lockout.py; an account in a wait takes no code), so guessing codes is no way around it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from idp.crypto.secrets import digest
from idp.models.uow import UnitOfWork
from idp.models.users import User
from idp.services.accounts.one_time_links import (
    LIFETIMES,
    MAGIC_LINK,
    LiveLink,
    issue_link,
    new_link_token,
    peek_link,
    peek_link_by_digest,
    take_link_by_digest,
)
from idp.services.accounts.users import normalise_email
from idp.services.audit import FAILED, SUCCESS, AuditEntry, record_event
from idp.services.mail import Mailer
from idp.services.rate_limits import AddressThrottle
from idp.services.signin.lockout import Lockout
from idp.services.signin.sessions import (
    Attempt,
    SignedIn,
    audit_refused_sign_in,
    open_session,
)
from idp.services.tenancy.tenants import TenantView
from idp.services.tenancy.usage import UsageRecorder
from idp.settings import RateLimitSettings
from idp.stores import ShortLivedStore

MAILBOX_AMR = "email"  # our own amr value: control of the mailbox was proven (DESIGN §13)
METHOD = "magic_link"  # the tenant's sign_in_methods entry, and the audit's method
MAIL = "magic_link"
CODE_TRIES = 5
LIFETIME = int(LIFETIMES[MAGIC_LINK].total_seconds())
MAX_CODE = 32


class MagicThrottle(AddressThrottle):
    """Link requests per address (known or not) and per client IP."""

    def __init__(self, store: ShortLivedStore, limits: RateLimitSettings) -> None:
        super().__init__(
            store,
            "magic",
            limits.magic_links_per_address,
            limits.magic_links_per_ip,
            limits.magic_link_window_seconds,
        )


class MagicThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many sign-in link requests")
        self.retry_after = retry_after


class LinkGone(Exception):
    """The link is unknown, used, voided by a newer one or by wrong codes, expired or forged."""


class OtherBrowser(Exception):
    """The link is live, but this browser did not ask for it: nothing was spent."""


class CodeRefused(Exception):
    """A wrong code; `tries_left` 0: no code works any more, the person asks again."""

    def __init__(self, tries_left: int) -> None:
        super().__init__("sign-in code refused")
        self.tries_left = tries_left


@dataclass(frozen=True)
class MagicSignIn:
    signed_in: SignedIn
    txn: str  # the authorization request the person asked from ("" for none)


def code_of(token: str) -> str:
    """The six digits mailed with the link, derived from its token: the other browser's
    confirm page can show them without anything but the digests being stored."""
    number = int.from_bytes(hashlib.sha256(f"idp-magic-code:{token}".encode()).digest()[:8])
    return f"{number % 10**6:06d}"


def _code_digest(binding: str, code: str) -> str:
    return digest(f"{binding}:{code}")


class MagicLinks:
    """The use cases; one per process (it holds no state of its own but its collaborators)."""

    def __init__(
        self,
        store: ShortLivedStore,
        mailer: Mailer,
        throttle: MagicThrottle,
        lockout: Lockout,
        usage: UsageRecorder | None = None,
    ) -> None:
        self._store = store
        self._mailer = mailer
        self._throttle = throttle
        self._lockout = lockout
        self._usage = usage

    def request(
        self, uow: UnitOfWork, tenant: TenantView, email: str, txn: str, attempt: Attempt
    ) -> str:
        """Mail a link and code if `email` names an active account; the same outcome otherwise.
        Returns the browser's binding value (for its cookie; made for unknown addresses too).
        Raises InvalidInput for what is not an address, MagicThrottled past a limit."""
        email = normalise_email(email)
        retry_after = self._throttle.hit(tenant.id, email, attempt.ip)
        if retry_after is not None:
            raise MagicThrottled(retry_after)
        browser = secrets.token_urlsafe(32)
        binding = digest(browser)
        subject = None
        with uow:
            user = uow.users.by_email(tenant.id, email)
            if user is not None and user.active:
                token = new_link_token()
                payload = {
                    "txn": txn,
                    "client_id": attempt.client_id,
                    "browser": binding,
                    "code": _code_digest(binding, code_of(token)),
                }
                issue_link(uow, tenant.id, user.id, MAGIC_LINK, payload, token)
                url = f"{self._mailer.issuer(tenant)}/magic/link?{urlencode({'token': token})}"
                values = {"link_url": url, "code": code_of(token)}
                self._mailer.queue(uow.session, tenant, user.email, MAIL, values)
                uow.commit()
                subject = user.subject
                self._store.put(self._pending_key(tenant, binding), digest(token), LIFETIME)
        if subject is not None:
            self._mailer.wake()
        self._audit(uow, tenant, subject, attempt)
        return browser

    def sign_in_by_link(
        self,
        uow: UnitOfWork,
        tenant: TenantView,
        token: str,
        browser: str | None,
        previous_cookie: str | None,
        attempt: Attempt,
    ) -> MagicSignIn:
        """Raises LinkGone, or OtherBrowser (spending nothing) without the asking browser's
        cookie."""
        with uow:
            live = peek_link(uow, tenant.id, MAGIC_LINK, token)
        if live is None:
            raise LinkGone()
        binding = digest(browser) if browser else ""
        if not _bound_to(live, binding):
            raise OtherBrowser()
        return self._complete(uow, tenant, digest(token), binding, previous_cookie, attempt)

    def code_for_link(self, uow: UnitOfWork, tenant: TenantView, token: str) -> str:
        """The link's code, for the browser that did not ask; spends nothing. Raises LinkGone."""
        with uow:
            if peek_link(uow, tenant.id, MAGIC_LINK, token) is None:
                raise LinkGone()
        return code_of(token)

    def sign_in_by_code(
        self,
        uow: UnitOfWork,
        tenant: TenantView,
        code: str,
        browser: str | None,
        previous_cookie: str | None,
        attempt: Attempt,
    ) -> MagicSignIn:
        """The code typed in the browser that asked. Raises CodeRefused (the last wrong try
        voids the link) or MagicThrottled while the account or address waits."""
        if not browser:
            raise CodeRefused(0)
        binding = digest(browser)
        pending_key = self._pending_key(tenant, binding)
        tries = self._store.incr(self._tries_key(tenant, binding), LIFETIME)
        link_digest = self._store.get(pending_key)
        live, account = None, f"magic-browser:{binding}"  # no link: count the browser and IP
        if link_digest is not None:
            with uow:
                live = peek_link_by_digest(uow, tenant.id, MAGIC_LINK, link_digest)
                owner = uow.session.get(User, live.user_id) if live is not None else None
                account = owner.email if owner is not None else account
        retry_after = self._lockout.retry_after(tenant, account, attempt.ip)
        if retry_after is not None:
            raise MagicThrottled(retry_after)
        code = "".join(code.split())[:MAX_CODE]
        if (
            live is not None
            and link_digest is not None
            and tries <= CODE_TRIES
            and _bound_to(live, binding)
            and hmac.compare_digest(str(live.payload.get("code", "")), _code_digest(binding, code))
        ):
            self._lockout.record_success(tenant, account)
            return self._complete(uow, tenant, link_digest, binding, previous_cookie, attempt)
        self._lockout.record_failure(tenant, account, attempt.ip, METHOD, attempt.request_id)
        tries_left = max(0, CODE_TRIES - tries)
        if tries_left == 0 and link_digest is not None:
            with uow:
                take_link_by_digest(uow, tenant.id, MAGIC_LINK, link_digest)
                uow.commit()
            self._store.delete(pending_key)
        audit_refused_sign_in(uow, tenant, attempt, None, FAILED, "wrong code", METHOD)
        raise CodeRefused(tries_left)

    def _complete(
        self,
        uow: UnitOfWork,
        tenant: TenantView,
        link_digest: str,
        binding: str,
        previous_cookie: str | None,
        attempt: Attempt,
    ) -> MagicSignIn:
        """Spend the link (one atomic take: of two concurrent uses one wins) and open the
        session in the same transaction."""
        with uow:
            link = take_link_by_digest(uow, tenant.id, MAGIC_LINK, link_digest)
            user = uow.session.get(User, link.user_id) if link is not None else None
            if link is None or user is None or user.tenant_id != tenant.id or not user.active:
                raise LinkGone()
            user.email_verified = True  # what a verification link proves was just proven
            attempt = replace(attempt, client_id=link.payload.get("client_id"))
            cookie, view = open_session(
                uow, tenant, user, (MAILBOX_AMR,), previous_cookie, attempt, METHOD
            )
            txn = str(link.payload.get("txn", ""))
        self._store.delete(self._pending_key(tenant, binding))
        self._store.delete(self._tries_key(tenant, binding))
        if self._usage is not None:
            self._usage.record_sign_in(tenant.id, view.user_id, attempt.client_id)
        return MagicSignIn(SignedIn(cookie, view, tenant.session_lifetime), txn)

    @staticmethod
    def _pending_key(tenant: TenantView, binding: str) -> str:
        # The browser's link, by the digest of its cookie: only that browser can type a code.
        return f"magic:pending:{tenant.id}:{binding}"

    @staticmethod
    def _tries_key(tenant: TenantView, binding: str) -> str:
        return f"magic:tries:{tenant.id}:{binding}"

    @staticmethod
    def _audit(uow: UnitOfWork, tenant: TenantView, subject: str | None, attempt: Attempt) -> None:
        record_event(
            uow,
            AuditEntry(
                action="user.magic_link_requested",
                actor="anonymous",
                tenant_id=tenant.id,
                target_type="user" if subject else None,
                target_id=subject,
                outcome=SUCCESS,
                client_ip=attempt.ip,
                request_id=attempt.request_id,
                details={"client_id": attempt.client_id},
            ),
        )


def _bound_to(link: LiveLink, binding: str) -> bool:
    expected = str(link.payload.get("browser", ""))
    return bool(binding) and hmac.compare_digest(expected, binding)
