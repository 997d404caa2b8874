"""Unit of work: one session, its repositories, and an explicit commit."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from idp.models.api_key_repository import ApiKeys
from idp.models.repositories import Clients, SigningKeys, Tenants, Users
from idp.models.session_repository import Consents, LoginSessions


class UnitOfWork:
    """`with uow:` opens a session; nothing is written unless `commit()` is called inside."""

    tenants: Tenants
    clients: Clients
    users: Users
    keys: SigningKeys
    api_keys: ApiKeys
    login_sessions: LoginSessions
    consents: Consents

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        self._session = self._session_factory()
        self.tenants = Tenants(self._session)
        self.clients = Clients(self._session)
        self.users = Users(self._session)
        self.keys = SigningKeys(self._session)
        self.api_keys = ApiKeys(self._session)
        self.login_sessions = LoginSessions(self._session)
        self.consents = Consents(self._session)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._session is not None
        self._session.rollback()
        self._session.close()
        self._session = None

    @property
    def session(self) -> Session:
        assert self._session is not None, "use the unit of work inside `with`"
        return self._session

    def commit(self) -> None:
        self.session.commit()
