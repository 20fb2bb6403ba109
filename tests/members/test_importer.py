"""`loyalflow import members|events` on the real database (SQLite and PostgreSQL) and Temporal."""

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from loyalflow.cli.app import app
from loyalflow.config import Settings, get_settings
from loyalflow.members.event_import import import_events
from loyalflow.members.import_files import ImportReport, UnusableInput
from loyalflow.members.importer import import_members
from loyalflow.models.db import session_scope
from loyalflow.models.tables import Event, Member
from loyalflow.runtime.connection import connect
from tests.conftest import free_port, unique_member_id
from tests.journey_helpers import create_member

HEADER = "member_id,email,phone,first_name,locale,timezone"


def write(directory: Path, name: str, *lines: str) -> Path:
    path = directory / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def event_line(event_id: str, member_id: str, type: str, **properties: Any) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "member_id": member_id,
            "type": type,
            "occurred_at": "2026-11-22T10:00:00Z",
            "properties": properties,
        }
    )


def members(settings: Settings, *ids: str) -> dict[str, Member]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(select(Member).where(col(Member.id).in_(ids)))
        return {member.id: member for member in rows}


def member_rows(settings: Settings, *ids: str) -> list[dict[str, Any]]:
    """Every column, `updated_at` included: what "nothing changed" must leave identical."""
    return [members(settings, *ids)[member_id].model_dump() for member_id in ids]


def event_rows(settings: Settings, *member_ids: str) -> list[dict[str, Any]]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.exec(
            select(Event).where(col(Event.member_id).in_(member_ids)).order_by(col(Event.event_id))
        )
        return [event.model_dump() for event in rows]


def rejected_lines(report: ImportReport) -> list[int]:
    return [rejection.line for rejection in report.rejections]


# ---------------------------------------------------------------------------------------------
# Members


def test_columns_set_member_fields_and_extra_columns_become_string_attributes(
    settings: Settings, tmp_path: Path
) -> None:
    ada, bob = unique_member_id(), unique_member_id()
    path = write(
        tmp_path,
        "members.csv",
        f"{HEADER},store,visits",
        f"{ada},ada@example.com,+33 6 12 34 56 78,Ada,fr_CA,Europe/Paris,Lyon,12",
        f"{bob},bob@example.com,,Bob,,,,",
    )

    report = import_members(settings, path)

    assert (report.rows, report.created, report.rejected) == (2, 2, 0)
    stored = members(settings, ada, bob)
    assert stored[ada].phone == "+33612345678"  # normalised exactly as PUT /members does
    assert (stored[ada].locale, stored[ada].timezone) == ("fr-CA", "Europe/Paris")
    assert stored[ada].attributes == {"store": "Lyon", "visits": "12"}  # strings, not numbers
    # Empty cells are fields left out: the defaults of a new member, no empty attributes.
    assert (stored[bob].phone, stored[bob].locale, stored[bob].timezone) == (None, "en", "UTC")
    assert stored[bob].attributes == {}


def test_bad_rows_are_rejected_with_their_line_numbers_and_good_rows_are_stored(
    settings: Settings, tmp_path: Path
) -> None:
    good = [unique_member_id() for _ in range(2)]
    bad = [unique_member_id() for _ in range(5)]
    path = write(
        tmp_path,
        "members.csv",
        HEADER,
        f"{good[0]},ada@example.com,,Ada,,",
        f"{bad[0]},not-an-email,,,,",
        f"{bad[1]},,0612345678,,,",
        f"{bad[2]},,,,xx-YY,",
        ",nobody@example.com,,,,",
        "bad id,,,,,",
        # A quoted cell over two lines: one row, starting on line 8; a name is one line (it may
        # end up in an email header), so the row is rejected.
        f'{bad[4]},,,"Anne',
        'Marie",fr,',
        f"{bad[3]},only,three",
        f"{good[1]},,,Cy,,",
    )

    # Batches of 2: rejects and stores interleave across several transactions.
    report = import_members(settings, path, batch_size=2)

    assert (report.rows, report.created, report.rejected) == (9, 2, 7)
    reasons = {rejection.line: rejection.reason for rejection in report.rejections}
    assert list(reasons) == [3, 4, 5, 6, 7, 8, 10]
    assert reasons[3].startswith("email: value is not a valid email address")
    assert reasons[4].startswith("phone: phone must be in E.164 format")
    assert reasons[5].startswith("locale: locale 'xx-YY' is not a known locale")
    assert reasons[6] == "member_id: is empty"
    assert reasons[7].startswith("member_id: 'bad id' is not a member id")
    assert reasons[8].startswith("first_name: must be a single line without control characters")
    assert reasons[10] == "expected 6 fields as in the header, found 3"
    assert report.rejections[0].input == f"{bad[0]},not-an-email,,,,"
    stored = members(settings, *good, *bad)
    assert sorted(stored) == sorted(good)
    assert stored[good[1]].first_name == "Cy"


def test_a_rejected_row_changes_nothing_of_its_member(settings: Settings, tmp_path: Path) -> None:
    member_id = unique_member_id()
    create_member(settings, member_id, email="ada@example.com", first_name="Ada")
    before = member_rows(settings, member_id)
    path = write(tmp_path, "members.csv", HEADER, f"{member_id},not-an-email,,Changed,fr,")

    report = import_members(settings, path)

    assert rejected_lines(report) == [2]
    assert member_rows(settings, member_id) == before


def test_importing_the_same_members_again_changes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    ids = [unique_member_id() for _ in range(5)]
    path = write(
        tmp_path,
        "members.csv",
        f"{HEADER},store",
        *(f"{i},{i.lower()}@example.com,+33612345678,Ada,fr,Europe/Paris,Lyon" for i in ids),
    )
    import_members(settings, path, batch_size=2)
    before = member_rows(settings, *ids)

    again = import_members(settings, path, batch_size=2)

    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 5, 0)
    assert member_rows(settings, *ids) == before  # updated_at included


def test_a_later_file_changes_only_the_cells_it_sets(settings: Settings, tmp_path: Path) -> None:
    ada, bob = unique_member_id(), unique_member_id()
    first = write(
        tmp_path,
        "first.csv",
        f"{HEADER},store",
        f"{ada},ada@example.com,,Ada,fr,Europe/Paris,Lyon",
        f"{bob},bob@example.com,,Bob,,,Paris",
    )
    import_members(settings, first)
    second = write(
        tmp_path,
        "second.csv",
        "member_id,first_name,vip",
        f"{ada},Adeline,yes",
        f"{bob},,",  # nothing set: unchanged
    )

    report = import_members(settings, second)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    stored = members(settings, ada)[ada]
    assert (stored.first_name, stored.email, stored.locale) == ("Adeline", "ada@example.com", "fr")
    assert stored.attributes == {"store": "Lyon", "vip": "yes"}  # merged, like PUT /members


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((), "is empty"),
        (("email,first_name", "ada@example.com,Ada"), "no member_id column"),
        (("member_id,email,email", "M-1,a@example.com,b@example.com"), "repeats email"),
        (("member_id,,email", "M-1,x,a@example.com"), "column 2 of the header has no name"),
    ],
)
def test_unusable_member_files_are_refused_before_any_write(
    settings: Settings, tmp_path: Path, lines: tuple[str, ...], message: str
) -> None:
    path = write(tmp_path, "members.csv", *lines)

    with pytest.raises(UnusableInput, match=message):
        import_members(settings, path)


# ---------------------------------------------------------------------------------------------
# Events


@pytest.fixture
def events_file(tmp_path: Path, member_id: str) -> Path:
    """Three good events for `member_id` and three bad ones, on lines 2 to 4."""
    return write(
        tmp_path,
        "events.jsonl",
        event_line(f"{member_id}-joined", member_id, "member.joined"),
        '{"event_id": "broken", ',
        event_line(f"{member_id}-teleport", member_id, "teleport"),
        event_line(f"{member_id}-ghost", f"{member_id}-ghost", "purchase", amount=5),
        event_line(f"{member_id}-purchase", member_id, "purchase", amount=10),
        "",
        event_line(f"{member_id}-visit", member_id, "visit"),
    )


async def test_bad_events_are_rejected_with_their_line_numbers_and_good_ones_are_stored(
    settings: Settings, events_file: Path, member_id: str
) -> None:
    # Batches of 3: the unknown member's event is refused by store_events inside a batch of
    # good ones, which are then stored without it.
    report = await import_events(settings, events_file, route=False, batch_size=3)

    assert (report.rows, report.accepted, report.duplicates, report.rejected) == (6, 3, 0, 3)
    reasons = {rejection.line: rejection.reason for rejection in report.rejections}
    assert list(reasons) == [2, 3, 4]
    assert reasons[2].startswith("Invalid JSON")
    assert reasons[3].startswith("type: unknown event type 'teleport'")
    assert reasons[4].startswith(f"member_id: unknown member '{member_id}-ghost'")
    posted = {row["event_id"] for row in event_rows(settings, member_id) if not row["caused_by"]}
    assert posted == {f"{member_id}-{name}" for name in ("joined", "purchase", "visit")}
    assert members(settings, member_id)[member_id].purchase_count == 1
    assert members(settings, f"{member_id}-ghost") == {}


async def test_importing_the_same_events_again_only_finds_duplicates(
    settings: Settings, events_file: Path, member_id: str
) -> None:
    await import_events(settings, events_file, route=False)
    events_before, member_before = event_rows(settings, member_id), member_rows(settings, member_id)

    again = await import_events(settings, events_file, route=False)

    assert (again.accepted, again.duplicates, again.derived, again.rejected) == (0, 3, 0, 3)
    assert event_rows(settings, member_id) == events_before
    assert member_rows(settings, member_id) == member_before


async def test_a_file_that_is_not_json_lines_is_refused_before_any_write(
    settings: Settings, tmp_path: Path, member_id: str
) -> None:
    path = write(
        tmp_path,
        "events.csv",
        "event_id,member_id,type,occurred_at",
        event_line(f"{member_id}-joined", member_id, "member.joined"),
    )

    with pytest.raises(UnusableInput, match="line 1 is not JSON"):
        await import_events(settings, path, route=False)
    assert event_rows(settings, member_id) == []


def temporal_of(settings: Settings) -> Callable[[], Awaitable[Client]]:
    return lambda: connect(settings, wait_seconds=5)


@pytest.fixture
def routed_settings(settings: Settings, dev_server_env: WorkflowEnvironment) -> Settings:
    # The dev server, as in the API tests: journeys started here have no worker.
    address = dev_server_env.client.service_client.config.target_host
    return settings.model_copy(update={"temporal_address": address})


async def test_an_imported_join_starts_the_welcome_journey(
    routed_settings: Settings, dev_server_env: WorkflowEnvironment, tmp_path: Path, member_id: str
) -> None:
    path = write(
        tmp_path, "events.jsonl", event_line(f"{member_id}-joined", member_id, "member.joined")
    )

    report = await import_events(routed_settings, path, connect=temporal_of(routed_settings))

    assert (report.accepted, report.routed, report.unrouted) == (1, 1, 0)
    handle = dev_server_env.client.get_workflow_handle(f"journey-welcome-{member_id}")
    assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    assert [row["routed"] for row in event_rows(routed_settings, member_id)] == [True]
    await handle.terminate("test over")


async def test_no_route_starts_nothing_and_keeps_the_re_router_away(
    routed_settings: Settings, dev_server_env: WorkflowEnvironment, tmp_path: Path, member_id: str
) -> None:
    path = write(
        tmp_path, "events.jsonl", event_line(f"{member_id}-joined", member_id, "member.joined")
    )

    report = await import_events(routed_settings, path, route=False)

    assert (report.accepted, report.routed, report.not_routed) == (1, 0, 1)
    handle = dev_server_env.client.get_workflow_handle(f"journey-welcome-{member_id}")
    with pytest.raises(RPCError) as raised:
        await handle.describe()
    assert raised.value.status == RPCStatusCode.NOT_FOUND
    # Marked routed: left unrouted, the workers' re-router would start the journey anyway.
    assert [row["routed"] for row in event_rows(routed_settings, member_id)] == [True]


async def test_unreachable_temporal_leaves_events_stored_for_the_re_router(
    settings: Settings, tmp_path: Path, member_id: str
) -> None:
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    path = write(
        tmp_path, "events.jsonl", event_line(f"{member_id}-joined", member_id, "member.joined")
    )

    report = await import_events(nowhere, path, connect=temporal_of(nowhere))

    assert (report.accepted, report.routed, report.unrouted, report.rejected) == (1, 0, 1, 0)
    assert report.routing_problem is not None
    assert "Temporal is unreachable" in report.routing_problem
    assert [row["routed"] for row in event_rows(settings, member_id)] == [False]


# ---------------------------------------------------------------------------------------------
# The command line: exit codes and the report


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("LOYALFLOW_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("LOYALFLOW_HOME", str(settings.home))
    get_settings.cache_clear()  # the CLI reads these through the cached get_settings()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_members_exits_0_when_all_rows_are_imported_and_1_with_rejects(
    cli: CliRunner, settings: Settings, tmp_path: Path
) -> None:
    ada, bob = unique_member_id(), unique_member_id()
    good = write(tmp_path, "good.csv", HEADER, f"{ada},ada@example.com,,Ada,,")
    mixed = write(tmp_path, "mixed.csv", HEADER, f"{bob},bob@example.com,,Bob,,", "x y,,,,,")
    rejects = tmp_path / "rejects.csv"

    ok = cli.invoke(app, ["import", "members", str(good)])
    partial = cli.invoke(app, ["import", "members", str(mixed), "--rejects", str(rejects)])

    assert ok.exit_code == 0, ok.output
    assert re.search(r"created\s+1\b", ok.stdout)
    assert partial.exit_code == 1, partial.output
    assert "line 3: member_id: 'x y' is not a member id" in partial.stdout
    assert rejects.read_text().splitlines()[0] == "line,reason,input"
    assert rejects.read_text().splitlines()[1].startswith("3,")
    assert sorted(members(settings, ada, bob)) == sorted([ada, bob])


def test_cli_events_with_no_route(cli: CliRunner, tmp_path: Path, member_id: str) -> None:
    path = write(
        tmp_path,
        "events.jsonl",
        event_line(f"{member_id}-joined", member_id, "member.joined"),
        event_line(f"{member_id}-bad", member_id, "teleport"),
    )

    result = cli.invoke(app, ["import", "events", str(path), "--no-route"])

    assert result.exit_code == 1, result.output
    assert re.search(r"accepted\s+1\b", result.stdout)
    assert "routing: skipped (--no-route)" in result.stdout
    assert "line 2: type: unknown event type 'teleport'" in result.stdout


def test_import_events_with_json_prints_the_report_for_programs(
    cli: CliRunner, tmp_path: Path, member_id: str
) -> None:
    path = write(
        tmp_path,
        "events.jsonl",
        event_line(f"{member_id}-joined", member_id, "member.joined"),
        event_line(f"{member_id}-bad", member_id, "teleport"),
    )

    result = cli.invoke(app, ["import", "events", str(path), "--no-route", "--json"])

    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert (report["rows"], report["accepted"], report["rejected"]) == (2, 1, 1)
    assert report["not_routed"] == 1
    assert report["rejections"][0]["line"] == 2


@pytest.mark.parametrize(
    ("command", "name", "lines"),
    [
        ("members", "missing.csv", None),
        ("members", "members.csv", ("email,first_name", "ada@example.com,Ada")),
        ("events", "missing.jsonl", None),
        ("events", "events.csv", ("event_id,member_id,type", "e1,M-1,visit")),
    ],
)
def test_cli_exits_2_on_unusable_input(
    cli: CliRunner, tmp_path: Path, command: str, name: str, lines: tuple[str, ...] | None
) -> None:
    path = tmp_path / name if lines is None else write(tmp_path, name, *lines)
    no_route = ["--no-route"] if command == "events" else []

    result = cli.invoke(app, ["import", command, str(path), *no_route])

    assert result.exit_code == 2, result.output
    assert "nothing imported" in result.stderr


async def test_routing_interrupted_part_way_leaves_the_rest_for_the_re_router(
    routed_settings: Settings, tmp_path: Path, member_id: str
) -> None:
    # Reachable, but every start fails: the namespace does not exist.
    failing = routed_settings.model_copy(update={"temporal_namespace": f"none-{member_id}"})
    path = write(
        tmp_path,
        "events.jsonl",
        event_line(f"{member_id}-joined", member_id, "member.joined"),
        event_line(f"{member_id}-visit", member_id, "visit"),
    )

    report = await import_events(failing, path, connect=temporal_of(failing))

    assert (report.accepted, report.routed, report.unrouted, report.rejected) == (2, 0, 2, 0)
    assert report.routing_problem == "routing was interrupted (the errors are logged above)"
    assert [row["routed"] for row in event_rows(failing, member_id)] == [False, False]
