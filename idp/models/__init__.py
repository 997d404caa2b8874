"""Persistence: SQLAlchemy models, the database engine and the unit of work."""

from idp.models.account_links import AccountLink
from idp.models.api_keys import ApiKey
from idp.models.audit import AuditEvent
from idp.models.base import Base
from idp.models.clients import Client
from idp.models.factors import RecoveryCode, TotpFactor
from idp.models.federated_identities import FederatedIdentity
from idp.models.jobs import QueuedJob
from idp.models.keys import SigningKey
from idp.models.passkeys import Passkey
from idp.models.pictures import UserPicture
from idp.models.providers import UpstreamProvider
from idp.models.refresh_tokens import RefreshToken
from idp.models.registration import InitialAccessToken
from idp.models.revocations import RevokedAccessToken, SubjectRevocation, UsedClientAssertion
from idp.models.roles import Role, user_roles
from idp.models.sessions import Consent, LoginSession, SessionClient
from idp.models.store_entries import StoreEntry
from idp.models.team import TeamMember
from idp.models.tenants import Tenant
from idp.models.usage import ActiveUser, UsageCount
from idp.models.users import User

__all__ = [
    "AccountLink",
    "ActiveUser",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Client",
    "Consent",
    "FederatedIdentity",
    "InitialAccessToken",
    "LoginSession",
    "Passkey",
    "QueuedJob",
    "RecoveryCode",
    "RefreshToken",
    "RevokedAccessToken",
    "Role",
    "SessionClient",
    "SigningKey",
    "StoreEntry",
    "SubjectRevocation",
    "TeamMember",
    "Tenant",
    "TotpFactor",
    "UpstreamProvider",
    "UsageCount",
    "UsedClientAssertion",
    "User",
    "UserPicture",
    "user_roles",
]
