"""The permission matrix and the checks built on it."""

from __future__ import annotations

import itertools

import pytest

from bot.actor import Actor
from bot.permissions import (
    COMMANDS,
    MATRIX,
    Operation,
    PermissionDenied,
    Scope,
    authorise,
    commands_for,
    is_allowed,
    matrix_as_markdown,
    may,
    scope_for,
)
from bot.vocabulary import Role

AREA = 10
OTHER_AREA = 11
AGENCY = 100
OTHER_AGENCY = 101

AGENCY_SCOPED = {Role.AGENCY_REP, Role.PERPETRATOR_REP}


def actor(
    role: Role, *, area_id: int = AREA, agency_id: int | None = AGENCY, confirmed: bool = True
) -> Actor:
    return Actor(
        person_id=1,
        telegram_user_id=999,
        role=role,
        area_id=area_id,
        agency_id=agency_id,
        display_name="Test Person",
        area_name="Testshire",
        confirmed=confirmed,
    )


ALL_PAIRS = list(itertools.product(Role, Operation))


def test_every_role_has_a_row_in_the_matrix() -> None:
    assert set(MATRIX) == set(Role)


def test_expected_grants() -> None:
    # Spelled out so that a change to the matrix is a deliberate, reviewed change.
    granted = {role: set(ops) for role, ops in MATRIX.items()}
    assert granted[Role.COORDINATOR] == set(Operation) - {
        Operation.RETURN_RESEARCH,
        Operation.WORK_ACTIONS,
    }
    assert granted[Role.CHAIR] == {
        Operation.USE_BOT,
        Operation.VIEW_PEOPLE,
        Operation.VIEW_CASES,
        Operation.VIEW_MEETINGS,
        Operation.RECORD_ACTIONS,
    }
    assert granted[Role.AGENCY_REP] == {
        Operation.USE_BOT,
        Operation.VIEW_PEOPLE,
        Operation.REFER_CASE,
        Operation.VIEW_CASES,
        Operation.VIEW_MEETINGS,
        Operation.RETURN_RESEARCH,
        Operation.WORK_ACTIONS,
    }
    assert granted[Role.PERPETRATOR_REP] == {
        Operation.USE_BOT,
        Operation.VIEW_PEOPLE,
        Operation.VIEW_MEETINGS,
        Operation.RETURN_RESEARCH,
        Operation.WORK_ACTIONS,
    }
    assert granted[Role.GOVERNANCE] == {Operation.USE_BOT, Operation.VIEW_STATISTICS}
    for role in AGENCY_SCOPED:
        assert set(MATRIX[role].values()) == {Scope.AGENCY}


@pytest.mark.parametrize(("role", "operation"), ALL_PAIRS, ids=lambda v: getattr(v, "name", v))
def test_is_allowed_matches_the_matrix_in_own_area_and_agency(
    role: Role, operation: Operation
) -> None:
    expected = operation in MATRIX[role]
    assert is_allowed(actor(role), operation, area_id=AREA, agency_id=AGENCY) is expected
    assert may(actor(role), operation) is expected
    assert (scope_for(role, operation) is not None) is expected


@pytest.mark.parametrize(("role", "operation"), ALL_PAIRS, ids=lambda v: getattr(v, "name", v))
def test_nothing_crosses_areas(role: Role, operation: Operation) -> None:
    someone = actor(role)
    assert is_allowed(someone, operation, area_id=OTHER_AREA, agency_id=AGENCY) is False
    assert is_allowed(someone, operation, area_id=OTHER_AREA, agency_id=None) is False
    with pytest.raises(PermissionDenied):
        authorise(someone, operation, area_id=OTHER_AREA, agency_id=AGENCY)


@pytest.mark.parametrize(("role", "operation"), ALL_PAIRS, ids=lambda v: getattr(v, "name", v))
def test_agency_scope_stays_within_the_own_agency(role: Role, operation: Operation) -> None:
    scope = scope_for(role, operation)
    someone = actor(role)
    other_agency = is_allowed(someone, operation, area_id=AREA, agency_id=OTHER_AGENCY)
    area_level = is_allowed(someone, operation, area_id=AREA, agency_id=None)
    if scope is Scope.AGENCY:
        assert other_agency is False
        assert area_level is False
    elif scope is Scope.AREA:
        assert other_agency is True
        assert area_level is True
    else:
        assert other_agency is False
        assert area_level is False


@pytest.mark.parametrize("role", sorted(AGENCY_SCOPED))
def test_agency_scoped_actor_without_an_agency_gets_nothing(role: Role) -> None:
    # A rep whose agency is unknown must not match "belongs to no agency".
    someone = actor(role, agency_id=None)
    for operation in Operation:
        assert is_allowed(someone, operation, area_id=AREA, agency_id=None) is False
        assert is_allowed(someone, operation, area_id=AREA, agency_id=AGENCY) is False


def test_area_scoped_roles_reach_every_agency_in_their_area() -> None:
    coordinator = actor(Role.COORDINATOR, agency_id=None)
    for operation in MATRIX[Role.COORDINATOR]:
        for agency_id in (None, AGENCY, OTHER_AGENCY):
            assert is_allowed(coordinator, operation, area_id=AREA, agency_id=agency_id)


def test_governance_has_nothing_but_statistics() -> None:
    governance = actor(Role.GOVERNANCE)
    for operation in Operation:
        allowed = is_allowed(governance, operation, area_id=AREA, agency_id=AGENCY)
        assert allowed is (operation in (Operation.USE_BOT, Operation.VIEW_STATISTICS)), operation


@pytest.mark.parametrize(("role", "operation"), ALL_PAIRS, ids=lambda v: getattr(v, "name", v))
def test_authorise_raises_exactly_when_not_allowed(role: Role, operation: Operation) -> None:
    someone = actor(role)
    if operation in MATRIX[role]:
        authorise(someone, operation, area_id=AREA, agency_id=AGENCY)
    else:
        with pytest.raises(PermissionDenied) as caught:
            authorise(someone, operation, area_id=AREA, agency_id=AGENCY)
        assert caught.value.operation is operation
        assert operation.name in str(caught.value)


def test_permission_denied_message_carries_nothing_personal() -> None:
    someone = actor(Role.GOVERNANCE)
    with pytest.raises(PermissionDenied) as caught:
        authorise(someone, Operation.VIEW_AUDIT, area_id=AREA)
    assert "Test Person" not in str(caught.value)
    assert "Testshire" not in str(caught.value)


@pytest.mark.parametrize("role", list(Role))
def test_commands_for_lists_only_commands_the_role_may_use(role: Role) -> None:
    listed = commands_for(role)
    expected = [command for command in COMMANDS if command.operation in MATRIX[role]]
    assert listed == expected
    for command in listed:
        assert command.operation in MATRIX[role]


def test_commands_for_hides_commands_of_operations_a_role_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One command per operation, independent of what COMMANDS holds today.
    from bot import permissions

    one_each = tuple(
        permissions.Command(operation.name.lower(), operation.value, operation)
        for operation in Operation
    )
    monkeypatch.setattr(permissions, "COMMANDS", one_each)

    def names(role: Role) -> list[str]:
        return [c.name for c in commands_for(role)]

    agency_only = (Operation.RETURN_RESEARCH, Operation.WORK_ACTIONS)
    assert names(Role.COORDINATOR) == [c.name for c in one_each if c.operation not in agency_only]
    assert names(Role.GOVERNANCE) == ["use_bot", "view_statistics"]
    assert names(Role.PERPETRATOR_REP) == [
        "use_bot",
        "view_people",
        "view_meetings",
        "return_research",
        "work_actions",
    ]
    assert names(Role.CHAIR) == [
        "use_bot",
        "view_people",
        "view_cases",
        "view_meetings",
        "record_actions",
    ]
    assert names(Role.AGENCY_REP) == [
        "use_bot",
        "view_people",
        "refer_case",
        "view_cases",
        "view_meetings",
        "return_research",
        "work_actions",
    ]


def test_real_commands_for_governance_are_only_help_and_statistics() -> None:
    listed = commands_for(Role.GOVERNANCE)
    assert {command.name for command in listed} >= {"start", "help", "stats"}
    assert {command.operation for command in listed} == {
        Operation.USE_BOT,
        Operation.VIEW_STATISTICS,
    }


def test_matrix_as_markdown_has_a_row_per_operation_and_a_column_per_role() -> None:
    lines = matrix_as_markdown().splitlines()
    header, rule, *rows = lines
    header_cells = [cell.strip() for cell in header.strip("|").split("|")]
    assert header_cells == ["operation", *[role.value for role in Role]]
    assert rule.count("---") == len(Role) + 1
    assert len(rows) == len(Operation)
    for operation, row in zip(Operation, rows, strict=True):
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == len(Role) + 1
        assert cells[0] == operation.value
        for role, cell in zip(Role, cells[1:], strict=True):
            scope = MATRIX[role].get(operation)
            assert cell == (scope.value if scope else "—")


@pytest.mark.parametrize("role", list(Role))
def test_before_a_coordinator_confirms_them_a_person_may_only_use_the_menu_and_help(
    role: Role,
) -> None:
    awaiting = actor(role, confirmed=False)
    for operation in Operation:
        allowed = is_allowed(awaiting, operation, area_id=AREA, agency_id=AGENCY)
        assert allowed is (operation is Operation.USE_BOT), operation
        assert may(awaiting, operation) is (operation is Operation.USE_BOT), operation
    with pytest.raises(PermissionDenied) as refused:
        authorise(awaiting, Operation.VIEW_CASES, area_id=AREA, agency_id=AGENCY)
    assert refused.value.reason == "awaiting confirmation"
    # Choosing English or Cymraeg is for everyone, confirmed or not.
    assert [c.name for c in commands_for(role, confirmed=False)] == [
        "start",
        "help",
        "language",
        "cancel",
    ]


def test_an_actor_is_unconfirmed_unless_said_otherwise() -> None:
    built = Actor(
        person_id=1,
        telegram_user_id=999,
        role=Role.COORDINATOR,
        area_id=AREA,
        agency_id=None,
        display_name="Test Person",
        area_name="Testshire",
    )
    assert not built.confirmed
    assert not is_allowed(built, Operation.MANAGE_PEOPLE, area_id=AREA)
