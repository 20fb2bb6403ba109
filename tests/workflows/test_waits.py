"""Waits in the member's own clock: local times of day across daylight-saving changes, dates of
the member (birthdays), and a journey's own quiet hours.

The pure timing functions are tested directly. The journeys run on a time-skipping server of
their own per test: they move its clock to a chosen day and end at local times of day, which
would shift the shared server's time of day under other tests.
"""

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from loyalflow.config import Settings
from loyalflow.runtime.connection import ensure_search_attributes
from loyalflow.workflows.timing import date_wait_target, next_local_time
from tests.conftest import TEMPORAL_TEST_SERVER
from tests.journey_helpers import (
    create_member,
    journey_result,
    messages,
    send_event,
    zone_where_it_will_be,
)
from tests.workflows.journey_kit import journey_worker, steps, with_journeys

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


# --- timing.next_local_time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "at", "on_days", "expected_utc"),
    [
        # Spring forward (2027-03-28, 02:00 -> 03:00): 09:00 is 08:00 UTC before, 07:00 after.
        (paris(2027, 3, 27, 8), time(9), None, datetime(2027, 3, 27, 8, tzinfo=UTC)),
        (paris(2027, 3, 27, 10), time(9), None, datetime(2027, 3, 28, 7, tzinfo=UTC)),
        # Fall back (2026-10-25, 03:00 -> 02:00): 07:00 UTC before, 08:00 after.
        (paris(2026, 10, 24, 10), time(9), None, datetime(2026, 10, 25, 8, tzinfo=UTC)),
        # Mondays only, from a Friday: across the change to the Monday.
        (paris(2027, 3, 26, 12), time(9), ("mon",), datetime(2027, 3, 29, 7, tzinfo=UTC)),
        (paris(2027, 10, 29, 12), time(9), ("mon",), datetime(2027, 11, 1, 8, tzinfo=UTC)),
        # 02:30 does not exist on 2027-03-28 in Paris: the first real instant after the gap.
        (paris(2027, 3, 28, 0), time(2, 30), None, datetime(2027, 3, 28, 1, 30, tzinfo=UTC)),
        # Exactly at the time: now, not tomorrow.
        (paris(2027, 1, 4, 9), time(9), ("mon",), datetime(2027, 1, 4, 8, tzinfo=UTC)),
        # Just after it on the only allowed day: a week later.
        (paris(2027, 1, 4, 9, 1), time(9), ("mon",), datetime(2027, 1, 11, 8, tzinfo=UTC)),
    ],
)
def test_next_local_time_keeps_the_wall_clock_time(
    after: datetime, at: time, on_days: tuple[str, ...] | None, expected_utc: datetime
) -> None:
    found = next_local_time(after.astimezone(UTC), "Europe/Paris", at, on_days)
    assert found == expected_utc
    local = found.astimezone(PARIS)
    assert local.hour == (3 if at == time(2, 30) else at.hour)


def test_a_wall_clock_day_across_the_spring_change_is_23_hours() -> None:
    saturday = next_local_time(datetime(2027, 3, 27, tzinfo=UTC), "Europe/Paris", time(9))
    sunday = next_local_time(saturday + timedelta(minutes=1), "Europe/Paris", time(9))
    assert sunday - saturday == timedelta(hours=23)


# --- timing.date_wait_target ---------------------------------------------------------------------


def test_a_date_minus_7_days_at_a_local_time() -> None:
    now = datetime(2027, 4, 1, tzinfo=UTC)
    target = date_wait_target(
        "2027-05-10",
        "America/New_York",
        now,
        offset=timedelta(days=-7),
        at=time(10),
        each_year=False,
    )
    assert target == datetime(2027, 5, 3, 10, tzinfo=NEW_YORK)


def test_a_date_without_a_time_is_local_midnight_and_garbage_is_no_date() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)

    def target(value: object) -> datetime | None:
        return date_wait_target(
            value, "Europe/Paris", now, offset=timedelta(0), at=None, each_year=False
        )

    assert target("2027-02-01") == paris(2027, 2, 1)
    assert target(None) is None
    assert target("not a date") is None


@pytest.mark.parametrize(
    ("birthday", "now", "expected"),
    [
        # This year's birthday (minus 7 days) is still ahead.
        ("1990-05-10", datetime(2027, 4, 1, tzinfo=UTC), datetime(2027, 5, 3, 9, tzinfo=PARIS)),
        # Already passed this year: next year's.
        ("1990-05-10", datetime(2027, 6, 1, tzinfo=UTC), datetime(2028, 5, 3, 9, tzinfo=PARIS)),
        # Early January: the offset reaches back into December of the year before.
        ("1990-01-03", datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 27, 9, tzinfo=PARIS)),
        # 29 February: the 28th in a common year, the 29th in a leap year.
        ("2000-02-29", datetime(2027, 1, 10, tzinfo=UTC), datetime(2027, 2, 21, 9, tzinfo=PARIS)),
        ("2000-02-29", datetime(2027, 12, 1, tzinfo=UTC), datetime(2028, 2, 22, 9, tzinfo=PARIS)),
    ],
)
def test_each_year_finds_the_next_anniversary(
    birthday: str, now: datetime, expected: datetime
) -> None:
    target = date_wait_target(
        birthday, "Europe/Paris", now, offset=timedelta(days=-7), at=time(9), each_year=True
    )
    assert target == expected


def test_each_year_on_the_day_itself_at_a_time_still_ahead() -> None:
    now = datetime(2027, 5, 10, 6, tzinfo=UTC)  # 08:00 in Paris, the wait ends at 09:00
    target = date_wait_target(
        date(1990, 5, 10), "Europe/Paris", now, offset=timedelta(0), at=time(9), each_year=True
    )
    assert target == datetime(2027, 5, 10, 9, tzinfo=PARIS)


# --- journeys on a clock of their own ------------------------------------------------------------


@pytest.fixture
async def own_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=TEMPORAL_TEST_SERVER, data_converter=pydantic_data_converter
    )
    await ensure_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    now = await env.get_current_time()
    assert moment > now, "the test server's clock starts at the real time"
    await env.sleep(moment - now)


MONDAY_MORNING = """
id: w_monday
name: Monday 09:00
trigger: {event: visit}
topic: loyalty
steps:
  - {id: next_monday, kind: wait, duration: 1d, at: "09:00", on_days: [mon]}
  - {id: nudge, kind: send, channel: email, template: reactivation_nudge}
"""


@pytest.mark.parametrize(
    ("friday_noon", "expected_utc"),
    [
        (datetime(2027, 3, 26, 12, tzinfo=UTC), datetime(2027, 3, 29, 7, tzinfo=UTC)),  # CEST
        (datetime(2027, 10, 29, 12, tzinfo=UTC), datetime(2027, 11, 1, 8, tzinfo=UTC)),  # CET
    ],
)
async def test_a_wait_until_monday_09_00_paris_time_across_a_dst_change(
    own_env: WorkflowEnvironment,
    settings: Settings,
    tmp_path: Path,
    member_id: str,
    friday_noon: datetime,
    expected_utc: datetime,
) -> None:
    settings = with_journeys(settings, tmp_path / "j", MONDAY_MORNING)
    create_member(settings, member_id, email="pa@example.com", timezone="Europe/Paris")
    await skip_to(own_env, friday_noon)
    async with journey_worker(own_env.client, settings):
        await send_event(own_env.client, settings, member_id, "visit", occurred_at=friday_noon)
        result = await journey_result(own_env, f"journey-w_monday-{member_id}")

    waiting = [t.detail for t in result.trail if t.outcome == "waiting"]
    assert waiting == [f"until {expected_utc:%Y-%m-%d %H:%M} UTC (Europe/Paris)"]
    [sent] = [m for m in messages(settings, member_id) if m.status == "sent"]
    assert sent.sent_at is not None
    local = sent.sent_at.astimezone(PARIS)
    assert (local.strftime("%a"), local.hour, local.minute) == ("Mon", 9, 0)
    assert expected_utc <= sent.sent_at < expected_utc + timedelta(minutes=1)


BIRTHDAY = """
id: w_birthday
name: A week before the birthday
trigger: {event: visit}
topic: loyalty
steps:
  - id: week_before
    kind: wait
    until_date: member.attributes.birthday
    offset: -7d
    at: "10:00"
    each_year: true
  - {id: nudge, kind: send, channel: email, template: reactivation_nudge}
"""


async def test_a_wait_until_7_days_before_the_birthday_in_the_members_timezone(
    own_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "j", BIRTHDAY)
    now = await own_env.get_current_time()
    day = (now + timedelta(days=40)).astimezone(NEW_YORK).date()
    create_member(
        settings,
        member_id,
        email="bd@example.com",
        timezone="America/New_York",
        attributes={"birthday": f"1990-{day:%m-%d}"},
    )
    undated = f"{member_id}-x"
    create_member(settings, undated, email="nd@example.com", timezone="America/New_York")
    async with journey_worker(own_env.client, settings):
        for someone in (member_id, undated):
            await send_event(own_env.client, settings, someone, "visit", occurred_at=now)
        skipped = await journey_result(own_env, f"journey-w_birthday-{undated}")
        result = await journey_result(own_env, f"journey-w_birthday-{member_id}")

    expected = datetime.combine(day, time(10), tzinfo=NEW_YORK) - timedelta(days=7)
    [sent] = [m for m in messages(settings, member_id) if m.status == "sent"]
    assert sent.sent_at is not None
    assert expected <= sent.sent_at < expected + timedelta(minutes=1)
    assert sent.sent_at.astimezone(NEW_YORK).hour == 10
    assert steps(result)[:2] == [("week_before", "waiting"), ("week_before", "waited")]
    # No birthday: the wait is skipped with the reason and the journey goes on.
    assert next((t.step, t.outcome, t.detail) for t in skipped.trail) == (
        "week_before",
        "skipped",
        "member.attributes.birthday has no date",
    )
    assert [m.status for m in messages(settings, undated)] == ["sent"]


QUIET_EMAIL = """
id: w_quiet
name: Own quiet hours
trigger: {event: visit}
topic: loyalty
quiet_hours:
  email: {start: "11:00", end: "16:00"}   # the program has none for email
steps:
  - {id: nudge, kind: send, channel: email, template: reactivation_nudge}
"""


async def test_a_journeys_own_quiet_hours_replace_the_programs(
    own_env: WorkflowEnvironment, settings: Settings, tmp_path: Path, member_id: str
) -> None:
    settings = with_journeys(settings, tmp_path / "j", QUIET_EMAIL)
    now = await own_env.get_current_time()
    zone = zone_where_it_will_be(12, now)
    create_member(settings, member_id, email="qh@example.com", timezone=zone)
    async with journey_worker(own_env.client, settings):
        await send_event(own_env.client, settings, member_id, "visit", occurred_at=now)
        result = await journey_result(own_env, f"journey-w_quiet-{member_id}")

    nudge = [(t.outcome, t.detail or "") for t in result.trail if t.step == "nudge"]
    assert nudge[0][0] == "deferred" and "quiet hours" in nudge[0][1]
    assert nudge[-1][0] == "sent"
    [sent] = [m for m in messages(settings, member_id) if m.status == "sent"]
    assert sent.sent_at is not None
    local = sent.sent_at.astimezone(ZoneInfo(zone))
    assert (local.hour, local.minute) == (16, 0)
