"""Everything a request or a command needs, built once per process from the settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from idp.crypto.kek import Kek, load_kek
from idp.crypto.passwords import Passwords
from idp.mail import make_sender
from idp.models.db import make_engine, make_session_factory
from idp.models.lookups import (
    ClientLookup,
    PersonLookup,
    ProviderLookup,
    RefreshTokenLookup,
    SessionLookup,
    TenantLookup,
)
from idp.models.revocation_records import RevocationRecords
from idp.models.uow import UnitOfWork
from idp.services.generations import TenantGenerations, publish_on_commit
from idp.services.job_queue import JobQueue
from idp.services.mail import Mailer
from idp.services.mail_templates import MailTemplates
from idp.services.oauth_clients.client_cache import GENERATIONS as CLIENT_GENERATIONS
from idp.services.oauth_clients.client_cache import ClientCache, tenant_of_client
from idp.services.rate_limits import BatchedLimiter
from idp.services.signin.backchannel import BackchannelSender
from idp.services.signin.lockout import Lockout
from idp.services.tenancy.tenants import SETTINGS_GENERATIONS, TenantCache, tenant_of_settings
from idp.services.tenancy.usage import UsageRecorder
from idp.services.tokens.revocations import Revocations
from idp.services.tokens.signing_keys import KeyCache
from idp.settings import Settings
from idp.stores import ShortLivedStore, make_store


@dataclass
class Services:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    store: ShortLivedStore
    revocations: Revocations
    kek: Kek
    passwords: Passwords
    key_cache: KeyCache
    tenant_cache: TenantCache
    client_lookup: ClientLookup
    person_lookup: PersonLookup
    provider_lookup: ProviderLookup
    refresh_token_lookup: RefreshTokenLookup
    session_lookup: SessionLookup
    clients: ClientCache
    usage: UsageRecorder
    jobs: JobQueue
    backchannel: BackchannelSender
    mailer: Mailer
    # Requests per tenant and address to the token endpoint (idp/http/oauth/token_limit.py) and
    # sign-ins started (idp/context.sign_in_start_wait): each limiter counts in the process, so
    # one of each per process.
    token_requests: BatchedLimiter
    sign_in_starts: BatchedLimiter

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def lockout(self) -> Lockout:
        """Failed sign-ins of every method, per account and per address (signin/lockout.py)."""
        return Lockout(self.store, self.settings.rate_limits, self.uow)

    def close(self) -> None:
        """Stop this process's background work and write what it buffered, then let go of
        the database: for a process, or a test, that is done with these services."""
        self.jobs.stop()
        self.usage.close()
        self.engine.dispose()


def build_services(settings: Settings, create_kek: bool = False) -> Services:
    """Wire the collaborators; `create_kek` only for commands that may initialise an install."""
    database = settings.database
    engine = make_engine(
        database.url,
        database.pool_size,
        connect_timeout=database.connect_timeout_seconds,
        pool_timeout=database.pool_timeout_seconds,
    )
    session_factory = make_session_factory(engine)
    kek = load_kek(Path(settings.keys.kek_file), os.environ.get("IDP_KEK"), create=create_kek)
    tenant_lookup = TenantLookup(engine)
    store = make_store(
        settings.redis.url,
        settings.redis.key_prefix,
        engine,
        connect_timeout=settings.redis.connect_timeout_seconds,
        command_timeout=settings.redis.command_timeout_seconds,
    )
    client_lookup = ClientLookup(engine)
    publish_on_commit(
        session_factory,
        store,
        {CLIENT_GENERATIONS: tenant_of_client, SETTINGS_GENERATIONS: tenant_of_settings},
    )
    settings_generations = TenantGenerations(store, SETTINGS_GENERATIONS)
    key_cache = KeyCache(tenant_lookup, kek, settings.keys.cache_seconds, settings_generations)
    jobs = JobQueue.from_settings(session_factory, settings.queue)
    return Services(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        store=store,
        # Redis caches the records; the SQL store would only keep a second copy of them in
        # the same database, so the records are read where they live
        # (services/tokens/revocations.py).
        revocations=Revocations(
            RevocationRecords(engine), store if settings.redis.url else None, store
        ),
        kek=kek,
        passwords=Passwords(
            settings.passwords.time_cost,
            settings.passwords.memory_kib,
            settings.passwords.parallelism,
        ),
        key_cache=key_cache,
        tenant_cache=TenantCache(
            tenant_lookup, settings.cache.tenant_seconds, settings_generations
        ),
        client_lookup=client_lookup,
        person_lookup=PersonLookup(engine),
        provider_lookup=ProviderLookup(engine),
        refresh_token_lookup=RefreshTokenLookup(engine),
        session_lookup=SessionLookup(engine),
        clients=ClientCache(client_lookup, store),
        token_requests=BatchedLimiter(
            store, "token", settings.rate_limits.token_per_minute, window=60
        ),
        sign_in_starts=BatchedLimiter(
            store, "authorize", settings.rate_limits.sign_ins_started_per_minute, window=60
        ),
        usage=UsageRecorder(session_factory, settings.usage.flush_seconds),
        jobs=jobs,
        backchannel=BackchannelSender(
            jobs, session_factory, key_cache, client_lookup, settings.tokens
        ),
        mailer=Mailer(
            jobs,
            session_factory,
            kek,
            make_sender(settings.mail),
            settings.mail,
            settings.server.public_url,
            MailTemplates(overrides_dir=settings.pages.template_overrides),
        ),
    )
