"""Assembling the pieces the bot runs on: database, keys, clock and services.

``run``, ``demo``, the CLI commands and the tests all build their runtime
here, so they exercise the same wiring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.services.access_review import AccessReviewService
from bot.services.actions import ActionService
from bot.services.agencies import AgencyService
from bot.services.areas import AreaService, PolicyService
from bot.services.audit_checkpoints import AuditCheckpointService
from bot.services.audit_trail import AuditTrailService
from bot.services.cases import CaseService
from bot.services.closures import ClosureService
from bot.services.confirmations import TEXT_FROM, ConfirmationService
from bot.services.dash_assessments import DashAssessmentService
from bot.services.deps import ServiceDeps
from bot.services.dvds import DvdsService
from bot.services.enrolment import EnrolmentService
from bot.services.idva import IdvaService
from bot.services.invites import InviteService
from bot.services.meetings import MeetingService
from bot.services.outbox import OutboxService
from bot.services.people import PeopleService
from bot.services.referrals import ReferralService
from bot.services.retention import RetentionService
from bot.services.sensitive_messages import SensitiveMessageService
from bot.services.statistics import StatisticsService
from bot.services.subject_access import SubjectAccessService
from bot.services.transfers import TransferService
from bot.services.victim_voice import VictimVoiceService
from config import Settings
from storage.crypto import KeySource
from storage.db import create_engine, create_session_factory
from storage.kek_sources import close_key_source, key_source_from_settings
from storage.vault import Vault


@dataclass
class Services:
    areas: AreaService
    invites: InviteService
    enrolment: EnrolmentService
    agencies: AgencyService
    people: PeopleService
    audit: AuditTrailService
    audit_checkpoints: AuditCheckpointService
    sensitive_messages: SensitiveMessageService
    referrals: ReferralService
    dash: DashAssessmentService
    cases: CaseService
    outbox: OutboxService
    policies: PolicyService
    meetings: MeetingService
    closures: ClosureService
    actions: ActionService
    statistics: StatisticsService
    retention: RetentionService
    subject_access: SubjectAccessService
    confirmations: ConfirmationService
    access_reviews: AccessReviewService
    victim_voice: VictimVoiceService
    idva: IdvaService
    dvds: DvdsService
    transfers: TransferService


def build_services(deps: ServiceDeps, settings: Settings) -> Services:
    return Services(
        areas=AreaService(deps),
        invites=InviteService(deps),
        enrolment=EnrolmentService(deps),
        agencies=AgencyService(deps),
        people=PeopleService(deps),
        audit=AuditTrailService(deps),
        audit_checkpoints=AuditCheckpointService(
            deps, enabled=settings.audit_checkpoints, file=settings.audit_checkpoint_file
        ),
        sensitive_messages=SensitiveMessageService(
            deps, timedelta(minutes=settings.sensitive_message_ttl_minutes)
        ),
        referrals=ReferralService(deps),
        dash=DashAssessmentService(deps),
        cases=CaseService(deps),
        outbox=OutboxService(deps),
        policies=PolicyService(deps),
        meetings=MeetingService(deps),
        closures=ClosureService(deps),
        actions=ActionService(deps),
        statistics=StatisticsService(deps),
        retention=RetentionService(deps),
        subject_access=SubjectAccessService(deps),
        confirmations=ConfirmationService(deps),
        access_reviews=AccessReviewService(deps),
        victim_voice=VictimVoiceService(deps),
        idva=IdvaService(deps),
        dvds=DvdsService(deps),
        transfers=TransferService(deps),
    )


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: Vault
    clock: Clock
    services: Services = field(init=False)

    def __post_init__(self) -> None:
        self.deps = ServiceDeps(
            sessions=self.sessions,
            vault=self.vault,
            clock=self.clock,
            invite_ttl=timedelta(hours=self.settings.invite_ttl_hours),
            default_timezone=self.settings.timezone,
            morning_digest=self.settings.morning_digest,
            access_review=self.settings.access_review,
        )
        self.services = build_services(self.deps, self.settings)
        self.services.outbox.register_attachment(
            "meeting_ics", self.services.meetings.calendar_file
        )
        self.services.outbox.register_text(TEXT_FROM, self.services.confirmations.check_text)

    async def close(self) -> None:
        close_key_source(self.vault.key_ring)
        await self.engine.dispose()


def open_runtime(
    settings: Settings, *, clock: Clock | None = None, key_ring: KeySource | None = None
) -> Runtime:
    engine = create_engine(settings.database_url, updates_at_once=settings.concurrent_updates)
    source = key_ring if key_ring is not None else key_source_from_settings(settings)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(engine, audit_key=source.audit_key()),
        vault=Vault(source),
        clock=clock or SystemClock(),
    )
