"""The case-access policy as a pure rule: who may see what of a case, and when."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.access import CaseFacts, Level, Listing, Part, Viewer, case_access, identifiers_shown
from bot.vocabulary import AgencyKind, Role

NOW = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)  # an input like any other: no wall clock here
AREA, OTHER_AREA = 1, 2
POLICE, HEALTH, IDVA, DRIVE = 10, 11, 12, 13
PUBLISHED = Listing(
    meeting_id=5,
    starts_at=NOW + timedelta(days=7),
    published_at=NOW - timedelta(days=1),
    research_closes_at=NOW + timedelta(days=14),
)


def case(**changes: object) -> CaseFacts:
    base: dict[str, object] = {
        "case_id": 1,
        "area_id": AREA,
        "referred_by_id": 100,
        "referring_agency_id": POLICE,
    }
    base.update(changes)
    return CaseFacts(**base)  # type: ignore[arg-type]


def person(
    person_id: int,
    role: Role,
    agency_id: int | None = None,
    kind: AgencyKind | None = None,
    **changes: object,
) -> Viewer:
    return Viewer(person_id, role, changes.pop("area_id", AREA), agency_id, kind, **changes)  # type: ignore[arg-type]


COORDINATOR = person(1, Role.COORDINATOR)
CHAIR = person(2, Role.CHAIR)
REFERRER = person(100, Role.AGENCY_REP, POLICE, AgencyKind.POLICE)
COLLEAGUE = person(101, Role.AGENCY_REP, POLICE, AgencyKind.POLICE)
HEALTH_REP = person(102, Role.AGENCY_REP, HEALTH, AgencyKind.HEALTH)
IDVA_REP = person(103, Role.AGENCY_REP, IDVA, AgencyKind.IDVA)
DRIVE_REP = person(104, Role.PERPETRATOR_REP, DRIVE, AgencyKind.PERPETRATOR_SERVICE)
GOVERNANCE = person(105, Role.GOVERNANCE)
EVERYONE = [COORDINATOR, CHAIR, REFERRER, COLLEAGUE, HEALTH_REP, IDVA_REP, DRIVE_REP, GOVERNANCE]


def test_who_runs_the_case_sees_everything() -> None:
    assert case_access(COORDINATOR, case(), NOW) is Level.FULL
    assert case_access(CHAIR, case(), NOW) is Level.FULL


def test_the_referrer_sees_their_referral_and_their_colleagues_its_summary() -> None:
    assert case_access(REFERRER, case(), NOW) is Level.REFERRAL
    assert case_access(COLLEAGUE, case(), NOW) is Level.SUMMARY
    assert case_access(HEALTH_REP, case(), NOW) is Level.NONE


def test_an_invited_agency_researches_only_while_research_is_open() -> None:
    listed = case(listings=(PUBLISHED,))
    assert case_access(HEALTH_REP, listed, NOW) is Level.RESEARCH
    closed = NOW + timedelta(days=15)
    assert case_access(HEALTH_REP, listed, closed) is Level.SUMMARY
    before = PUBLISHED.published_at - timedelta(minutes=1)  # type: ignore[operator]
    assert case_access(HEALTH_REP, listed, before) is Level.SUMMARY


def test_an_unpublished_or_cancelled_agenda_opens_nothing() -> None:
    draft = Listing(5, NOW + timedelta(days=7), None)
    cancelled = Listing(5, NOW + timedelta(days=7), NOW, NOW + timedelta(days=14), True)
    for listing in (draft, cancelled):
        assert case_access(HEALTH_REP, case(listings=(listing,)), NOW) is Level.NONE


def test_a_perpetrator_service_sees_whom_it_assesses_never_the_victim() -> None:
    # Invited while research is open, or assessing the person: the research level, but
    # only the person causing harm's identifiers open at it, and never more than that level.
    listed = case(listings=(PUBLISHED,))
    assert case_access(DRIVE_REP, listed, NOW) is Level.RESEARCH
    assessing = case(working_agencies=frozenset({DRIVE}), assessing_agencies=frozenset({DRIVE}))
    assert case_access(DRIVE_REP, assessing, NOW) is Level.RESEARCH
    assert case_access(DRIVE_REP, case(working_agencies=frozenset({DRIVE})), NOW) is (
        Level.REFERENCE
    )
    referred_by_them = case(referred_by_id=DRIVE_REP.person_id)
    assert case_access(DRIVE_REP, referred_by_them, NOW) is Level.RESEARCH  # capped
    shown = identifiers_shown(Level.RESEARCH, DRIVE_REP.role, DRIVE_REP.agency_kind)
    assert shown == {Part.PERSON_CAUSING_HARM}
    assert identifiers_shown(Level.RESEARCH, HEALTH_REP.role, HEALTH_REP.agency_kind) == set(Part)
    assert identifiers_shown(Level.SUMMARY, HEALTH_REP.role, HEALTH_REP.agency_kind) == set()


def test_an_agency_with_work_on_the_case_knows_its_reference() -> None:
    assert case_access(HEALTH_REP, case(working_agencies=frozenset({HEALTH})), NOW) is (
        Level.REFERENCE
    )


def test_every_idva_of_the_area_reads_a_referral_until_one_is_allocated() -> None:
    assert case_access(IDVA_REP, case(), NOW) is Level.REFERRAL
    assert case_access(IDVA_REP, case(excluded=frozenset({IDVA_REP.person_id})), NOW) is (
        Level.NONE
    )
    elsewhere = person(107, Role.AGENCY_REP, IDVA, AgencyKind.IDVA, area_id=OTHER_AREA)
    assert case_access(elsewhere, case(), NOW) is Level.NONE


def test_the_allocated_idva_sees_the_whole_case_and_her_colleagues_only_that_it_is_held() -> None:
    colleague = person(108, Role.AGENCY_REP, IDVA, AgencyKind.IDVA)
    held = case(allocated_idva=IDVA_REP.person_id)
    assert case_access(IDVA_REP, held, NOW) is Level.FULL
    assert case_access(colleague, held, NOW) is Level.SUMMARY
    # While the research is open the colleague searches the service's records like any
    # invited agency; she never reads the referral or the victim's voice.
    assert (
        case_access(colleague, case(allocated_idva=IDVA_REP.person_id, listings=(PUBLISHED,)), NOW)
        is Level.RESEARCH
    )
    excluded = case(allocated_idva=IDVA_REP.person_id, excluded=frozenset({IDVA_REP.person_id}))
    assert case_access(IDVA_REP, excluded, NOW) is Level.NONE


def test_on_call_contacts_hear_of_urgent_referrals() -> None:
    on_call = person(106, Role.AGENCY_REP, HEALTH, AgencyKind.HEALTH, on_call=True)
    assert case_access(on_call, case(urgent=True), NOW) is Level.REFERENCE
    assert case_access(on_call, case(), NOW) is Level.NONE


def test_governance_sees_no_case() -> None:
    everything = case(listings=(PUBLISHED,), working_agencies=frozenset({POLICE}))
    assert case_access(GOVERNANCE, everything, NOW) is Level.NONE


VIEWERS = st.sampled_from(EVERYONE)
FACTS = st.builds(
    case,
    urgent=st.booleans(),
    listings=st.sampled_from([(), (PUBLISHED,)]),
    working_agencies=st.frozensets(st.sampled_from([POLICE, HEALTH, IDVA, DRIVE])),
    assessing_agencies=st.frozensets(st.just(DRIVE)),
    referred_by_id=st.sampled_from([100, 104]),
    allocated_idva=st.sampled_from([None, 103, 108]),
)
MOMENTS = st.datetimes(
    min_value=datetime(2030, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)


@given(VIEWERS, FACTS, MOMENTS)
def test_the_must_not_receive_list_always_wins(
    viewer: Viewer, facts: CaseFacts, now: datetime
) -> None:
    excluded = CaseFacts(**{**facts.__dict__, "excluded": frozenset({viewer.person_id})})
    assert case_access(viewer, excluded, now) is Level.NONE


@given(VIEWERS, FACTS, MOMENTS)
def test_another_area_or_a_leaver_sees_nothing(
    viewer: Viewer, facts: CaseFacts, now: datetime
) -> None:
    elsewhere = Viewer(**{**viewer.__dict__, "area_id": OTHER_AREA})
    gone = Viewer(**{**viewer.__dict__, "active": False})
    assert case_access(elsewhere, facts, now) is Level.NONE
    assert case_access(gone, facts, now) is Level.NONE


@given(VIEWERS, FACTS, MOMENTS)
def test_someone_whose_enrolment_is_not_confirmed_sees_nothing(
    viewer: Viewer, facts: CaseFacts, now: datetime
) -> None:
    """An invite link can be forwarded: until a coordinator confirms who enrolled, nothing of
    any case reaches them, whatever their role, agency or work on the case."""
    awaiting = Viewer(**{**viewer.__dict__, "confirmed": False})
    assert case_access(awaiting, facts, now) is Level.NONE
    richest = CaseFacts(
        **{
            **facts.__dict__,
            "listings": (PUBLISHED,),
            "urgent": True,
            "referred_by_id": viewer.person_id,
            "referring_agency_id": viewer.agency_id,
            "working_agencies": frozenset({POLICE, HEALTH, IDVA, DRIVE}),
            "assessing_agencies": frozenset({DRIVE}),
        }
    )
    assert case_access(awaiting, richest, now) is Level.NONE
    assert case_access(Viewer(**{**awaiting.__dict__, "on_call": True}), richest, now) is (
        Level.NONE
    )


def test_confirmation_is_what_stands_between_a_new_colleague_and_the_case() -> None:
    listed = case(listings=(PUBLISHED,))
    new_colleague = person(106, Role.AGENCY_REP, POLICE, AgencyKind.POLICE, confirmed=False)
    assert case_access(new_colleague, listed, NOW) is Level.NONE
    confirmed = Viewer(**{**new_colleague.__dict__, "confirmed": True})
    assert case_access(confirmed, listed, NOW) is Level.RESEARCH
    new_coordinator = person(107, Role.COORDINATOR, confirmed=False)
    assert case_access(new_coordinator, listed, NOW) is Level.NONE


@given(VIEWERS, FACTS, MOMENTS)
def test_more_facts_never_take_access_away(viewer: Viewer, facts: CaseFacts, now: datetime) -> None:
    """Publication, work or urgency only ever add to what someone may see."""
    richer = CaseFacts(
        **{
            **facts.__dict__,
            "listings": (PUBLISHED,),
            "working_agencies": facts.working_agencies | {POLICE, HEALTH, IDVA, DRIVE},
            "assessing_agencies": frozenset({DRIVE}),
            "urgent": True,
        }
    )
    assert case_access(viewer, richer, now) >= case_access(viewer, facts, now)


@given(FACTS, MOMENTS)
def test_a_perpetrator_service_is_never_shown_the_victim(facts: CaseFacts, now: datetime) -> None:
    level = case_access(DRIVE_REP, facts, now)
    assert level <= Level.RESEARCH
    shown = identifiers_shown(level, DRIVE_REP.role, DRIVE_REP.agency_kind)
    assert Part.VICTIM not in shown and Part.VICTIM_ADDRESS not in shown


# --- MARAC-to-MARAC transfer ---


def test_a_transfer_asked_lets_the_receiving_coordinators_hear_of_the_case_only() -> None:
    asked = case(transfer_to=frozenset({OTHER_AREA}), listings=(PUBLISHED,), urgent=True)
    receiving = person(200, Role.COORDINATOR, area_id=OTHER_AREA)
    assert case_access(receiving, asked, NOW) is Level.REFERENCE
    # Nobody else of that area, nor a coordinator of a third area, nor once it is decided.
    for other in (
        person(201, Role.CHAIR, area_id=OTHER_AREA),
        person(202, Role.AGENCY_REP, IDVA, AgencyKind.IDVA, area_id=OTHER_AREA),
        person(203, Role.AGENCY_REP, POLICE, AgencyKind.POLICE, area_id=OTHER_AREA, on_call=True),
        person(204, Role.COORDINATOR, area_id=3),
    ):
        assert case_access(other, asked, NOW) is Level.NONE, other
    assert case_access(receiving, case(), NOW) is Level.NONE
    # The list, leaving and confirmation still win.
    excluded = case(transfer_to=frozenset({OTHER_AREA}), excluded=frozenset({200}))
    assert case_access(receiving, excluded, NOW) is Level.NONE
    for changed in ({"active": False}, {"confirmed": False}):
        gone = Viewer(**{**receiving.__dict__, **changed})
        assert case_access(gone, asked, NOW) is Level.NONE
    # The sending area is not changed by it.
    assert case_access(COORDINATOR, asked, NOW) is Level.FULL
